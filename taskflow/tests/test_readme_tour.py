"""The README's API tour, run as written against TaskFlow served the way `make run` serves it.

The tour's code block is taken from README.md, its commands run in bash in order (only the port
is changed, to the test server's), and the status each curl answered is compared with the one
the README writes at the end of that command. So the tour cannot drift from what TaskFlow does.
"""

import re
import shutil
import subprocess

from realtime.tests.servers import ROOT

README = ROOT / "README.md"
# The status the README promises for a command, at the end of its last line: `...  # 201`.
EXPECTED_STATUS = re.compile(r"#\s*(\d{3})\s*$")


def tour_block() -> str:
    """The first ```sh block after the `## API tour` heading."""
    text = README.read_text()
    section = text[text.index("\n## API tour\n") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "README.md's API tour has no ```sh block"
    return match.group(1)


def expected_statuses(block: str) -> list[int]:
    return [int(match.group(1)) for line in block.splitlines() if (match := EXPECTED_STATUS.search(line))]


def test_every_curl_of_the_tour_states_its_status():
    block = tour_block()
    curls = len(re.findall(r"\bcurl\b", block))
    assert curls >= 10
    assert len(expected_statuses(block)) == curls


def test_readme_tour_answers_as_the_readme_says(embedded_taskflow, tmp_path):
    assert shutil.which("curl"), "the tour needs curl"
    block = tour_block()
    assert "http://127.0.0.1:8000/api" in block
    statuses = tmp_path / "statuses"
    script = "\n".join(
        [
            "set -e -o pipefail",
            # Each curl also writes the status it got to the side file, in the order they ran.
            f"curl() {{ command curl -w '%{{stderr}}%{{http_code}}\\n' \"$@\" 2>>{statuses}; }}",
            block.replace("http://127.0.0.1:8000/", f"{embedded_taskflow.http}/"),
        ]
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    ran = [int(line) for line in statuses.read_text().split()] if statuses.exists() else []

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{embedded_taskflow.log()[-3000:]}"
    assert ran == expected_statuses(block), result.stdout
    # What the tour's comments say it shows is in what it printed.
    assert "X-Event-Seq:" in result.stdout or "x-event-seq:" in result.stdout
    assert '"title":"Write the announcement"' in result.stdout
    assert '"type":"task.created"' in result.stdout and '"type":"task.updated"' in result.stdout
