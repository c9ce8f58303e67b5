"""The deployment files: production static files, the container health check, compose, nginx, .env.example."""

import ast
import json
import os
import secrets
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest

from realtime.tests.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _settings_variables() -> set[str]:
    """Every environment variable taskflow/settings.py reads: the names in `env(...)`, `env.str(...)` ..."""
    tree = ast.parse((ROOT / "taskflow" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        reads_env = (isinstance(function, ast.Name) and function.id == "env") or (
            isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "env"
        )
        first = node.args[0]
        if reads_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def _production_env(**overrides: str) -> dict:
    """The environment of a production process: this one's, less every TaskFlow setting it may hold."""
    env = {key: value for key, value in os.environ.items() if key not in _settings_variables()}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "taskflow.settings",
            "TASKFLOW_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "tasks.example.com",
        }
    )
    env.update(overrides)
    return env


# --- Static files in production -------------------------------------------------------------------

# Runs in a production process: collects the static files the way the image's build does, into a
# folder of the test's own, then asks for the pages that use them and for every file they name.
_SERVE_COLLECTED_FILES = """
import json, re, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

with override_settings(STATIC_ROOT=sys.argv[1]):
    call_command("collectstatic", "--no-input", verbosity=0)
    client = Client(HTTP_HOST="tasks.example.com")
    pages, files = {}, {}
    for page in ("/admin/login/", "/api/docs/", "/api/redoc/"):
        response = client.get(page, secure=True)
        pages[page] = response.status_code
        for url in re.findall(r"/static/[^\\"'\\s]+", response.content.decode()):
            served = client.get(url, secure=True, HTTP_ACCEPT_ENCODING="gzip")
            files[url] = [served.status_code, served.get("Cache-Control", "")]
            served.close()
print(json.dumps({"pages": pages, "files": files}))
"""


@pytest.fixture(scope="module")
def served_static_files(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("static")
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_COLLECTED_FILES, str(folder / "staticfiles")],
        cwd=ROOT,
        env=_production_env(DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_pages_render_with_collected_static_files(served_static_files):
    assert served_static_files["pages"] == {"/admin/login/": 200, "/api/docs/": 200, "/api/redoc/": 200}


def test_production_serves_every_static_file_the_pages_name(served_static_files):
    files = served_static_files["files"]
    assert files, "the pages named no static file"
    assert {url: status for url, (status, _) in files.items() if status != 200} == {}


def test_production_static_file_names_carry_a_hash_and_are_cached_for_good(served_static_files):
    # Hashed names change with the content, so browsers may keep each file forever.
    cache_controls = {url: cache_control for url, (_, cache_control) in served_static_files["files"].items()}
    assert cache_controls, "the pages named no static file"
    assert all("immutable" in value for value in cache_controls.values()), cache_controls


# --- The container's health check -----------------------------------------------------------------


SERVER_ALLOWED_HOSTS = ".example.com"


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """TaskFlow in production mode under uvicorn, as the image runs it, on a free local port."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "taskflow.serve", "--server", "uvicorn", "--port", str(port)],
        cwd=ROOT,
        env=_production_env(ALLOWED_HOSTS=SERVER_ALLOWED_HOSTS, DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{(folder / 'server.log').read_text()}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    try:
        wait_until(listening, timeout=30, what=f"uvicorn on port {port}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _healthcheck(port: int, allowed_hosts: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "taskflow.healthcheck", "--port", str(port), "--timeout", "5"],
        cwd=ROOT,
        env=_production_env(ALLOWED_HOSTS=allowed_hosts),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthcheck_passes_with_a_host_name_first_in_allowed_hosts(production_server):
    # The server allows SERVER_ALLOWED_HOSTS, not 127.0.0.1, which the check connects to.
    result = _healthcheck(production_server, "tasks.example.com,.example.com")
    assert result.returncode == 0, result.stderr


def test_healthcheck_passes_with_a_subdomain_wildcard_first_in_allowed_hosts(production_server):
    result = _healthcheck(production_server, SERVER_ALLOWED_HOSTS)
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_the_server_refuses_the_host(production_server):
    result = _healthcheck(production_server, "elsewhere.example.org")
    assert result.returncode == 1
    assert "answered 400" in result.stderr


def test_healthcheck_fails_when_nothing_listens():
    result = _healthcheck(free_port(), SERVER_ALLOWED_HOSTS)
    assert result.returncode == 1
    assert "no answer from port" in result.stderr
