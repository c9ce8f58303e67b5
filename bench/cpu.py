"""The CPU one request costs TaskFlow itself: the kit's requests sent straight to Django's handler
in this process, one at a time, with no server, no socket and no other request in between.

    DATABASE_URL=mysql://root@127.0.0.1:3306/taskflow_bench .venv/bin/python bench/cpu.py [patch|detail|list]

What a server adds (its event loop, threads, parsing) is the difference between this figure and
the CPU per request bench/profile.sh reads from /proc under load. The database is one that
bench/rest.sh or bench/profile.sh seeded (user bench1, project "bench"); REDIS_URL as the server
has it (publishing on commit is part of a write). The process's CPU time (process_time: every
thread, so the publisher's too, user and system) is read around ROUNDS runs of REQUESTS requests
each; on a shared machine single runs vary by a third or more, so the median and the spread of
the rounds are printed. Where the time goes: `py-spy record -- .venv/bin/python bench/cpu.py`.

Env: ROUNDS (7), REQUESTS (300), and the settings' own (DATABASE_URL, REDIS_URL).
"""

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")
# As bench/lib.sh starts the servers: production settings, access tokens outliving the run.
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("JWT_ACCESS_MINUTES", "60")

import django

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from tasks.models import Project  # noqa: E402

USERNAME, PASSWORD = "bench1", "bench-pass"
handler = WSGIHandler()


def call(method: str, path: str, body: bytes = b"", token: str | None = None) -> tuple[int, bytes]:
    """One request through Django's WSGI handler, as a server would hand it over."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    statuses = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        content = b"".join(response)
    finally:
        response.close()
    return int(statuses[0].split()[0]), content


def requests_of(scenario: str, token: str, project: int):
    """The kit's request of `scenario`, as a function of the request's number."""
    status, page = call("GET", f"/api/tasks/?project={project}&page_size=50", token=token)
    assert status == 200, page
    ids = [task["id"] for task in json.loads(page)["results"]]
    if scenario == "patch":
        # A title no task had before, as the kit's client sends: a PATCH that changed nothing
        # would record no event and skip the write it is here to measure.
        run_id, sent = uuid.uuid4().hex[:8].encode(), itertools.count()
        return lambda n: call(
            "PATCH", f"/api/tasks/{ids[n % len(ids)]}/", b'{"title":"cpu %s %d"}' % (run_id, next(sent)), token
        )
    if scenario == "detail":
        return lambda n: call("GET", f"/api/tasks/{ids[0]}/", token=token)
    return lambda n: call("GET", f"/api/tasks/?project={project}&page_size=50", token=token)


def run(request, count: int) -> tuple[float, float]:
    """CPU and wall microseconds per request over `count` requests."""
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        status, body = request(n)
        if status != 200:
            raise SystemExit(f"request {n} answered {status}: {body[:300]!r}")
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default="patch", choices=["patch", "detail", "list"])
    options = parser.parse_args()
    rounds, count = int(os.environ.get("ROUNDS", "7")), int(os.environ.get("REQUESTS", "300"))

    status, body = call("POST", "/api/auth/token/", json.dumps({"username": USERNAME, "password": PASSWORD}).encode())
    if status != 200:
        raise SystemExit(f"no token for {USERNAME} ({status}): seed the database with bench/rest.sh first")
    project = Project.objects.get(name="bench").pk
    request = requests_of(options.scenario, json.loads(body)["access"], project)

    run(request, count)  # warm-up: connections open, caches and the database's pages warm
    results = [run(request, count) for _ in range(rounds)]
    cpu = sorted(result[0] for result in results)
    wall = sorted(result[1] for result in results)
    print(
        f"{options.scenario}: {statistics.median(cpu):.0f} us of CPU per request ({cpu[0]:.0f}-{cpu[-1]:.0f}), "
        f"{statistics.median(wall):.0f} us wall ({wall[0]:.0f}-{wall[-1]:.0f}); "
        f"{rounds} rounds of {count} requests, one at a time, no server"
    )


if __name__ == "__main__":
    main()
