"""The deployment files: production static files, the container health check, compose, nginx, .env.example."""

import ast
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

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
            "EMAIL_URL": "smtp+tls://taskflow:secret@smtp.example.com:587",
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
    for page in ("/admin/login/", "/api/docs/", "/api/redoc/", "/login/"):
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
    assert served_static_files["pages"] == {"/admin/login/": 200, "/api/docs/": 200, "/api/redoc/": 200, "/login/": 200}


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


# --- docker-compose.yml and .env.example ----------------------------------------------------------


def _env_example_names() -> set[str]:
    """The names .env.example lists, set (`NAME=value`) or shown with their default (`# NAME=value`)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {match.group(1) for line in lines if (match := pattern.match(line))}


def _env_example_values() -> dict[str, str]:
    """The settings .env.example sets (its uncommented lines)."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _compose_config(project_directory: Path, *options: str) -> subprocess.CompletedProcess:
    """`docker-compose config [options]` on the repository's compose file, with .env.example as its `.env`.

    The project directory holds that `.env`, so a developer's own `.env` plays no part.
    """
    if shutil.which("docker-compose") is None:
        pytest.fail(
            "docker-compose is not installed: `apt-get install docker-compose` (Debian's package; "
            "scripts/ensure-system-packages installs it when run as root)"
        )
    shutil.copy(ROOT / ".env.example", project_directory / ".env")
    return subprocess.run(
        [
            "docker-compose",
            "--file",
            str(ROOT / "docker-compose.yml"),
            "--project-directory",
            str(project_directory),
            "config",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _compose_services(project_directory: Path) -> dict:
    """The services as compose resolves them, with .env.example as the `.env`."""
    result = _compose_config(project_directory)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_compose_file_is_valid_with_env_example_as_its_env(tmp_path):
    result = _compose_config(tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr


def test_env_example_lists_every_setting_the_app_reads():
    assert _settings_variables() - _env_example_names() == set()


def test_only_nginx_is_published_on_the_host(tmp_path):
    services = _compose_services(tmp_path)
    assert {name for name, service in services.items() if service.get("ports")} == {"nginx"}


@pytest.mark.parametrize("service", ["web", "ws"])
def test_web_and_ws_run_two_replicas_after_the_migration_succeeded(tmp_path, service):
    replicas = _compose_services(tmp_path)[service]
    assert replicas["deploy"]["replicas"] == 2
    assert replicas["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize(("service", "protocol"), [("web", "http"), ("ws", "ws")])
def test_web_serves_http_only_and_ws_websockets_only(tmp_path, service, protocol):
    command = _compose_services(tmp_path)[service]["command"]
    assert command[:3] == ["python", "-m", "taskflow.serve"]
    assert command[command.index("--only") + 1] == protocol
    assert command[command.index("--server") + 1] == "uvicorn"


def test_no_service_serves_both_protocols(tmp_path):
    assert "app" not in _compose_services(tmp_path)


def test_worker_runs_the_worker_command_after_the_migration_succeeded(tmp_path):
    worker = _compose_services(tmp_path)["worker"]
    assert worker["command"] == ["python", "manage.py", "worker", "--no-reload"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["TASKFLOW_ENV"] == "production"
    assert worker["healthcheck"]["test"][:4] == ["CMD", "python", "manage.py", "status"]
    assert not worker.get("ports")


def test_nginx_mounts_the_repository_configs_read_only():
    nginx = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["nginx"]
    mounts = {}
    for volume in nginx["volumes"]:
        host_path, container_path, mode = volume.split(":")
        assert (ROOT / host_path).is_file()
        mounts[container_path] = (host_path, mode)
    assert mounts == {
        "/etc/nginx/conf.d/default.conf": ("./deploy/nginx.conf", "ro"),
        "/etc/nginx/nginx.conf": ("./deploy/nginx-main.conf", "ro"),
    }


def test_nginx_relays_thousands_of_websockets_per_worker():
    # Each relayed WebSocket is two connections; the image's own main config allows 1,024 a worker.
    config = (ROOT / "deploy" / "nginx-main.conf").read_text()
    connections = int(re.search(r"^\s*worker_connections (\d+);", config, re.M).group(1))
    open_files = int(re.search(r"^worker_rlimit_nofile (\d+);", config, re.M).group(1))
    assert connections // 2 >= 5000
    assert open_files >= connections
    nginx = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["nginx"]
    assert nginx["ulimits"]["nofile"] >= open_files
    assert "include /etc/nginx/conf.d/*.conf;" in config


def test_nginx_main_config_is_valid(tmp_path):
    # nginx's own check of the file, with the site left out (its upstreams are compose's names)
    # and the pid and log in a scratch directory.
    config = (ROOT / "deploy" / "nginx-main.conf").read_text()
    config = config.replace("include /etc/nginx/conf.d/*.conf;", "")
    config = config.replace("/var/run/nginx.pid", str(tmp_path / "nginx.pid"))
    config = config.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_deployment_check_passes_with_the_settings_compose_gives_the_app(tmp_path):
    # What a web or ws container gets: .env.example through compose, with the secrets filled in.
    environment = _compose_services(tmp_path)["web"]["environment"]
    environment = {name: str(value) for name, value in environment.items()}
    environment.update(SECRET_KEY=secrets.token_urlsafe(50), JWT_SIGNING_KEY=secrets.token_urlsafe(50))
    assert environment["TASKFLOW_ENV"] == "production"
    # Django's field checks ask the database server for its column types: no `mysql` host here.
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(**environment),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_env_example_leaves_the_secrets_to_set():
    # Production refuses to start without them, so an unedited copy cannot run with a known key.
    values = _env_example_values()
    assert values["SECRET_KEY"] == ""
    assert values["JWT_SIGNING_KEY"] == ""


# --- nginx ----------------------------------------------------------------------------------------


def _nginx_location(path: str) -> str:
    """The body of `location <path> { ... }` in deploy/nginx.conf (no nested blocks there)."""
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    match = re.search(rf"location\s+{re.escape(path)}\s*\{{(.*?)\}}", config, re.DOTALL)
    assert match, f"deploy/nginx.conf has no location {path}"
    return match.group(1)


def _directives(block: str) -> list[str]:
    """The directives of a block, one per `;`, with comments dropped and spaces collapsed."""
    text = re.sub(r"#[^\n]*", "", block)
    return [" ".join(part.split()) for part in text.split(";") if part.strip()]


def test_nginx_passes_websocket_upgrades_on_ws():
    directives = _directives(_nginx_location("/ws/"))
    assert "proxy_http_version 1.1" in directives
    assert "proxy_set_header Upgrade $http_upgrade" in directives
    assert 'proxy_set_header Connection "upgrade"' in directives
    assert any(d.startswith("proxy_read_timeout") and d.split()[1] in {"1h", "3600", "3600s"} for d in directives)


@pytest.mark.parametrize("path", ["/ws/", "/"])
def test_nginx_tells_the_app_the_client_address_scheme_and_host(path):
    # Each location sets its own headers: nginx drops the server's proxy_set_header where a location has any.
    directives = _directives(_nginx_location(path))
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for" in directives
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto" in directives
    assert "proxy_set_header Host $http_host" in directives


@pytest.mark.parametrize(("path", "upstream"), [("/ws/", "$taskflow_ws"), ("/", "$taskflow_web")])
def test_nginx_sends_websockets_to_ws_and_the_rest_to_web(path, upstream):
    assert f"proxy_pass {upstream}" in _directives(_nginx_location(path))


def test_nginx_sends_to_the_web_and_ws_services_through_dockers_dns():
    directives = _directives((ROOT / "deploy" / "nginx.conf").read_text())
    assert "resolver 127.0.0.11 valid=10s ipv6=off" in directives
    assert any(d.startswith("set $taskflow_web http://web:8000") for d in directives)
    assert any(d.startswith("set $taskflow_ws http://ws:8000") for d in directives)


def test_nginx_refuses_bodies_over_one_megabyte():
    assert "client_max_body_size 1m" in _directives((ROOT / "deploy" / "nginx.conf").read_text())
