"""Where a request's CPU time goes, from a py-spy raw profile and the server's CPU seconds.

    python bench/profile.py PROFILE.raw --rate HZ --requests N --cpu-seconds S [--top 25]

PROFILE.raw is `py-spy record --gil --format raw --rate HZ` of the server processes while they
served N requests and used S CPU-seconds (user + system, from /proc). With --gil py-spy samples
only the thread it sees holding the GIL, so each sample is 1/HZ seconds of Python running: the
profile splits that part of the CPU time. The rest (S less the samples' time) is not only system
calls and C code without the GIL: py-spy's GIL samples miss Python time too. A PATCH loop in one
thread, with no server (bench/cpu.py), shows half of its user time in them, where perf places
three quarters of its CPU in the interpreter (bench/README.md); a busy loop that never lets the
GIL go shows all of it. So read the split as where the sampled Python time goes, and the rest as
unattributed.

Printed in microseconds per request: by the package of the frame that was running (these add up
to the time under the GIL), then the frames that ran most themselves (self) and those under which
most ran (inclusive). bench/profile.sh runs the whole measurement.
"""

import argparse
import re
from collections import Counter

# The package a running frame belongs to, by its file; the first pattern that matches names it.
PACKAGES = [
    (
        "TaskFlow's code (taskflow/, tasks/, realtime/, accounts/, ...)",
        r"\((taskflow|tasks|realtime|accounts|comments|attachments|notifications|webhooks|batch|operations|board)/",
    ),
    ("the anchor's own code (app/)", r"\(app/"),
    ("the database driver (MySQLdb; the anchor's asyncmy, aiomysql)", r"\((MySQLdb|asyncmy|aiomysql|pymysql)/"),
    ("SQLAlchemy and greenlet (the anchor's database layer)", r"\((sqlalchemy|greenlet)/"),
    ("FastAPI, Starlette, Pydantic (the anchor's framework)", r"\((fastapi|starlette|pydantic|pydantic_core)/"),
    ("JWT (PyJWT)", r"\(jwt/"),
    ("Django's ORM (django/db/)", r"\(django/db/"),
    ("Django, the rest (request handling, middleware, utils)", r"\(django/"),
    ("Django REST framework and simplejwt", r"\((rest_framework|rest_framework_simplejwt|drf_spectacular)/"),
    ("redis-py and channels (publishing on commit)", r"\((redis|channels|channels_redis|msgpack)/"),
    ("uvicorn and httptools (the HTTP server)", r"\((uvicorn|httptools)/"),
    ("asyncio (the event loop)", r"\(asyncio/|\(selectors\.py"),
    ("threads, futures (asgiref, concurrent.futures, threading)", r"\((asgiref|concurrent)/|\((threading|queue)\.py"),
    ("JSON (json, orjson)", r"\(json/|orjson"),
    ("middleware packages (corsheaders, whitenoise)", r"\((corsheaders|whitenoise)/"),
]
OTHER = "other (the standard library, the rest)"


def package_of(frame: str) -> str:
    for name, pattern in PACKAGES:
        if re.search(pattern, frame):
            return name
    return OTHER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--rate", type=float, required=True, help="py-spy's samples per second")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=float, required=True)
    parser.add_argument("--system-seconds", type=float, help="of --cpu-seconds, those in the kernel")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    own, under, packages = Counter(), Counter(), Counter()
    with open(args.profile) as profile:
        for line in profile:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            # The first frame is the process (`process 123:"..."`), the last the one running. A
            # line that is not "stack count" is a stack py-spy read torn (--nonblocking): skipped.
            frames = [frame for frame in stack.split(";") if frame]
            if not frames or not count.isdigit():
                continue
            own[frames[-1]] += int(count)
            packages[package_of(frames[-1])] += int(count)
            for frame in set(frames):
                under[frame] += int(count)
    samples = sum(own.values())
    if not samples:
        raise SystemExit("the profile has no samples")

    def us(count: float) -> str:
        return f"{count / args.rate / args.requests * 1e6:8.1f} us"

    cpu = args.cpu_seconds * args.rate
    print(f"{args.requests} requests: {us(cpu).strip()} of CPU per request, of which")
    print(f"  {us(samples)}  ran Python (seen holding the GIL; {samples} samples at {args.rate:g} Hz)")
    print(f"  {us(max(cpu - samples, 0))}  not in those samples (system calls, C code, Python py-spy missed)")
    if args.system_seconds is not None:
        print(
            f"  ({us(args.system_seconds * args.rate).strip()} of the CPU per request was system time, in the kernel)"
        )
    print()
    print("under the GIL, by the package of the running frame:")
    for name, count in packages.most_common():
        print(f"  {us(count)}  {name}")
    print("\nself (the frame itself running):")
    for frame, count in own.most_common(args.top):
        print(f"  {us(count)}  {frame[:140]}")
    print("\ninclusive (the frame and everything it called):")
    for frame, count in under.most_common(args.top):
        print(f"  {us(count)}  {frame[:140]}")


if __name__ == "__main__":
    main()
