"""The Markdown documentation stands on its own: every relative link resolves inside the repository.

Users read README.md and docs/ from a clone, where nothing outside the repository exists: a link
must name a file of the repository (and an anchor, a heading of that file), and no document but
the benchmarks' names the design and benchmark kits that live next to the checkout.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Directories that hold no documentation of ours: environments, caches, collected assets.
SKIPPED_DIRECTORIES = {"node_modules", "staticfiles", "__pycache__", "results"}

# `[text](target)`, `![alt](target)`, the target optionally in <...> and followed by a title.
INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
# `[label]: target` reference definitions.
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:id|name)=[\"']([^\"']+)[\"']", re.IGNORECASE)
CODE_SPAN = re.compile(r"(`+).*?\1")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files(root: Path = ROOT) -> list[Path]:
    """Every Markdown file of the repository, outside hidden and generated directories."""
    return sorted(
        path
        for path in root.rglob("*.md")
        if not any(part.startswith(".") or part in SKIPPED_DIRECTORIES for part in path.relative_to(root).parts[:-1])
    )


def _outside_fences(text: str):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield number, line


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks, with inline code spans blanked out."""
    for number, line in _outside_fences(text):
        yield number, CODE_SPAN.sub(lambda span: " " * len(span.group(0)), line)


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    """The anchors a Markdown file offers: its headings (repeats numbered as GitHub does) and
    explicit `<a id=...>` / `<a name=...>` tags."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _outside_fences(path.read_text(encoding="utf-8")):
        anchors.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            anchor = heading_anchor(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def links_of(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link in a Markdown file, code excluded."""
    links = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        links += [(number, target) for target in INLINE_LINK.findall(line)]
        reference = REFERENCE_LINK.match(line)
        if reference:
            links.append((number, reference.group(1)))
    return links


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the relative links of `path`, one line each (empty when nothing is)."""
    problems = []
    for number, target in links_of(path):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # an absolute URL: not ours to check offline
        where = f"{path.relative_to(root)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        file_part = file_part.split("?", 1)[0]
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.is_relative_to(root):
            problems.append(f"{where}: points outside the repository")
            continue
        if not linked.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor and linked.suffix == ".md" and anchor not in anchors_of(linked):
            problems.append(f"{where}: no heading with anchor #{anchor} in {linked.relative_to(root)}")
    return problems


def test_every_relative_link_in_the_docs_resolves():
    files = markdown_files()
    assert ROOT / "README.md" in files and ROOT / "docs" / "architecture.md" in files, files
    problems = [problem for path in files for problem in broken_links(path)]
    assert not problems, "Broken links:\n" + "\n".join(problems)


def test_no_document_but_the_benchmarks_names_the_kits_outside_the_repository():
    naming = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in markdown_files()
        if path.relative_to(ROOT).parts[0] != "bench"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "../shared" in line
    ]
    assert not naming, "Outside the repository (users do not have it): " + ", ".join(naming)


def test_the_checker_finds_broken_links_and_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Getting `started`\n\n## Getting started\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n"
        "[ok](docs/guide.md#getting-started) [ok too](docs/guide.md#getting-started-1) [here](#title)\n"
        "[web](https://example.com/x.md) `[in code](missing.md)`\n\n"
        "```\n[in a block](missing.md)\n```\n\n"
        "[gone](docs/missing.md) [bad anchor](docs/guide.md#nowhere) [outside](../shared/design/API.md)\n"
        "[ref]: docs/also-missing.md\n"
    )
    problems = broken_links(readme, root=tmp_path)
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "docs/missing.md: no such file",
        "docs/guide.md#nowhere: no heading with anchor #nowhere in docs/guide.md",
        "../shared/design/API.md: points outside the repository",
        "docs/also-missing.md: no such file",
    ], problems
