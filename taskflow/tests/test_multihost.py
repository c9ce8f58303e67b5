"""TaskFlow on several hosts, made on this machine with network namespaces (taskflow.tests.netns):

- `db`: MariaDB of its own (a new data directory), the one database every app host shares;
- `redis1`, `redis2`, `redis3`: the cache's Redis, master on redis1 and replica on redis2, watched
  by a Redis Sentinel on each of the three (quorum 2); and the channel layer sharded over a second
  Redis on redis1 and one on redis2 (CHANNEL_LAYER_URLS, channels-redis' consistent hashing);
- `s3`: moto's S3 server, the attachments' storage (STORAGE_URL);
- `app1`..`app3`: each an HTTP-only uvicorn process and a WebSocket-only Daphne process, as the
  production topology runs them (`python -m taskflow.serve --only http|ws`), with the same settings;
- `lb`: nginx in front, spreading HTTP and `/ws/` over the three hosts.

The test process is the clients' machine. Members follow the project over WebSockets, two on each
app host, while writes go to every host. The Redis master is killed (Sentinel promotes the
replica, and every host's readiness check, which writes to the cache and reads back, passes again),
then app3 is stopped: its clients are closed with 1012 and resume through nginx on another host
from the last seq they saw. Every client must end with every seq of the writes exactly once, in
order. A file uploaded on one host downloads on another.

Runs in the MySQL + Redis pass (it needs root and the services' programs, which that pass's
machine has; it fails rather than skips there when they are missing) and stops everything it
started.
"""

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import websockets

from realtime.tests.servers import ROOT, api, manage, wait_until
from realtime.tests.test_collaboration_end_to_end import _download, _upload, _user
from realtime.tests.test_end_to_end import _require_mysql_and_redis
from taskflow.tests.netns import Host, Network

PROGRAMS = ["ip", "mariadbd", "mariadb-install-db", "mariadb", "redis-server", "redis-cli", "nginx"]
MASTER = "taskflow-master"
BUCKET = "taskflow-files"
DB_PASSWORD = "multi-host-db-pass"
AWS = {"AWS_ACCESS_KEY_ID": "multi-host-key", "AWS_SECRET_ACCESS_KEY": "multi-host-secret"}
START_SECONDS = 60


@dataclass
class Endpoint:
    """What the clients reach: an HTTP base and a WebSocket URL (the api() helpers take `.http`)."""

    http: str
    ws: str


def _answers(address: str, port: int) -> bool:
    with suppress(OSError), socket.create_connection((address, port), timeout=0.5):
        return True
    return False


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _ready(url: str, host: Host, program: str) -> bool:
    if not host.running(program):
        raise RuntimeError(f"{program} on {host.name} exited:\n{host.log(program)[-3000:]}")
    with suppress(OSError, ValueError):
        return _get(url)[0] == 200
    return False


# --- The hosts' services ---------------------------------------------------------------------------


def start_database(host: Host, directory: Path) -> str:
    """A new MariaDB on `host` with a database and a user for TaskFlow; its DATABASE_URL."""
    data, sock = directory / "data", directory / "mysqld.sock"
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    host.start(
        "mariadbd",
        [
            shutil.which("mariadbd") or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--pid-file={directory / 'mysqld.pid'}",
            f"--bind-address={host.address}",
            "--port=3306",
            "--user=root",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=2",
        ],
    )
    root = ["mariadb", f"--socket={sock}", "-uroot"]
    wait_until(
        lambda: subprocess.run([*root, "-e", "SELECT 1"], capture_output=True).returncode == 0,
        timeout=START_SECONDS,
        what="MariaDB on the db host",
    )
    subprocess.run(
        [
            *root,
            "-e",
            "CREATE DATABASE taskflow CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
            f"CREATE USER 'taskflow'@'%' IDENTIFIED BY '{DB_PASSWORD}';"
            "GRANT ALL ON taskflow.* TO 'taskflow'@'%';",
        ],
        check=True,
        capture_output=True,
    )
    return f"mysql://taskflow:{DB_PASSWORD}@{host.address}:3306/taskflow"


def start_redis(host: Host, program: str, port: int, *extra: str) -> None:
    # A replica keeps the copy its master sends in its --dir: the host's own folder.
    host.start(
        program,
        [
            "redis-server",
            "--dir",
            str(host.logs),
            "--bind",
            host.address,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            *extra,
        ],
    )
    wait_until(lambda: _answers(host.address, port), timeout=START_SECONDS, what=f"{program} on {host.name}")


def start_sentinel(host: Host, master: Host, directory: Path) -> None:
    """Redis Sentinel (redis-server in sentinel mode) watching `master`; it rewrites its own file."""
    conf = directory / f"sentinel-{host.name}.conf"
    conf.write_text(
        f"bind {host.address}\nport 26379\nprotected-mode no\ndir {directory}\n"
        f"sentinel monitor {MASTER} {master.address} 6379 2\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 5000\n"
        f"sentinel parallel-syncs {MASTER} 1\n"
    )
    host.start("sentinel", ["redis-server", str(conf), "--sentinel"])
    wait_until(lambda: _answers(host.address, 26379), timeout=START_SECONDS, what=f"Sentinel on {host.name}")


def sentinel_master(sentinel: Host) -> str | None:
    result = subprocess.run(
        ["redis-cli", "-h", sentinel.address, "-p", "26379", "SENTINEL", "get-master-addr-by-name", MASTER],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.split()
    return lines[0] if result.returncode == 0 and lines else None


def start_s3(host: Host) -> str:
    host.start("moto", [str(Path(sys.executable).with_name("moto_server")), "-H", host.address, "-p", "5000"])
    endpoint = f"http://{host.address}:5000"
    wait_until(lambda: _answers(host.address, 5000), timeout=START_SECONDS, what="moto on the s3 host")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_aws()).create_bucket(Bucket=BUCKET)
    return endpoint


def _aws() -> dict:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"]}


def start_app(host: Host, env: dict) -> Endpoint:
    """The host's HTTP-only (8000) and WebSocket-only (8001) processes, ready."""
    serve = [sys.executable, "-m", "taskflow.serve", "--host", "0.0.0.0", "--procs", "1"]
    host.start("http", [*serve, "--only", "http", "--server", "uvicorn", "--port", "8000"], env=env, cwd=ROOT)
    host.start("ws", [*serve, "--only", "ws", "--server", "daphne", "--port", "8001"], env=env, cwd=ROOT)
    return Endpoint(http=f"http://{host.address}:8000", ws=f"ws://{host.address}:8001/ws/")


def app_ready(host: Host) -> None:
    for program, port in (("http", 8000), ("ws", 8001)):
        wait_until(
            lambda port=port, program=program: _ready(f"http://{host.address}:{port}/healthz", host, program),
            timeout=START_SECONDS,
            what=f"{program} on {host.name}",
        )


NGINX_CONF = """\
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 0;
    upstream taskflow_http {{ {http} }}
    upstream taskflow_ws {{ {ws} }}
    server {{
        listen {address}:80;
        location /ws/ {{
            proxy_pass http://taskflow_ws;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $http_host;
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
        location / {{
            proxy_pass http://taskflow_http;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


def start_nginx(host: Host, apps: list[Host], directory: Path) -> Endpoint:
    directory.mkdir()
    conf = NGINX_CONF.format(
        dir=directory,
        address=host.address,
        http=" ".join(f"server {app.address}:8000;" for app in apps),
        ws=" ".join(f"server {app.address}:8001;" for app in apps),
    )
    (directory / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    host.start("nginx", [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"])
    wait_until(lambda: _ready(f"http://{host.address}/healthz", host, "nginx"), timeout=START_SECONDS, what="nginx")
    return Endpoint(http=f"http://{host.address}", ws=f"ws://{host.address}/ws/")


# --- The topology ----------------------------------------------------------------------------------


@dataclass
class Topology:
    network: Network
    hosts: dict[str, Host]
    apps: list[Endpoint]
    lb: Endpoint


@pytest.fixture
def topology(tmp_path):
    _require_mysql_and_redis()
    missing = [
        program for program in PROGRAMS if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists()
    ]
    assert not missing, f"the multi-host test needs {', '.join(missing)} (scripts/ensure-system-packages)"
    assert os.geteuid() == 0, "the multi-host test makes network namespaces: it runs as root"

    network = Network(tmp_path / "hosts")
    try:
        network.create()
        hosts = {
            name: network.host(name)
            for name in ("db", "redis1", "redis2", "redis3", "s3", "app1", "app2", "app3", "lb")
        }
        database_url = start_database(hosts["db"], tmp_path / "db")
        start_redis(hosts["redis1"], "redis", 6379)
        start_redis(hosts["redis2"], "redis", 6379, "--replicaof", hosts["redis1"].address, "6379")
        for name in ("redis1", "redis2"):
            start_redis(hosts[name], "shard", 6380)
        for name in ("redis1", "redis2", "redis3"):
            start_sentinel(hosts[name], hosts["redis1"], tmp_path)
        s3 = start_s3(hosts["s3"])

        app_names = ["app1", "app2", "app3"]
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("TASKFLOW_", "AWS_"))},
            **AWS,
            "DJANGO_SETTINGS_MODULE": "taskflow.settings",
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": ",".join(hosts[name].address for name in [*app_names, "lb"]),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://{MASTER}/0",
            "REDIS_SENTINELS": ",".join(f"{hosts[name].address}:26379" for name in ("redis1", "redis2", "redis3")),
            "CHANNEL_LAYER_URLS": ",".join(f"redis://{hosts[name].address}:6380/0" for name in ("redis1", "redis2")),
            "STORAGE_URL": f"s3://{BUCKET}?endpoint_url={s3}&region_name=us-east-1",
            "TASKFLOW_AUTH_RATE": "100000/min",
        }
        # Once, from this machine, as a deployment's release step would.
        manage(env, "migrate", "--no-input", "-v", "0", timeout=300)
        apps = [start_app(hosts[name], env) for name in app_names]
        for name in app_names:
            app_ready(hosts[name])
        lb = start_nginx(hosts["lb"], [hosts[name] for name in app_names], tmp_path / "nginx")
        yield Topology(network=network, hosts=hosts, apps=apps, lb=lb)
    finally:
        network.destroy()


# --- Clients ---------------------------------------------------------------------------------------


@dataclass
class Follower:
    """A member's WebSocket client: resumes after a close from the last seq it saw, through `fallback`."""

    url: str
    fallback: str
    token: str
    project: int
    since: int
    seqs: list[int] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    async def follow(self, until) -> None:
        while not until(self):
            self.urls.append(self.url)
            try:
                async with websockets.connect(self.url, open_timeout=10, max_size=2**20) as socket:
                    await socket.send(json.dumps({"type": "auth", "token": self.token}))
                    assert json.loads(await socket.recv())["type"] == "auth.ok"
                    since = self.seqs[-1] if self.seqs else self.since
                    await socket.send(json.dumps({"type": "subscribe", "project": self.project, "since": since}))
                    while not until(self):
                        try:
                            frame = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
                        except TimeoutError:
                            continue  # to look at `until` again
                        if frame["type"] == "event" and frame["project"] == self.project:
                            self.seqs.append(frame["seq"])
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else 1006)
                self.url = self.fallback


async def _write(endpoint: Endpoint, token: str, project: int, tasks: list[int], number: int) -> None:
    """One change through `endpoint`: a new task, or a new title for one made before."""
    if number % 3 == 0 or not tasks:
        status, task = await asyncio.to_thread(
            api, endpoint, "POST", "/api/tasks/", {"project": project, "title": f"Task {number}"}, token
        )
        assert status == 201, task
        tasks.append(task["id"])
    else:
        task = tasks[number % len(tasks)]
        status, body = await asyncio.to_thread(
            api, endpoint, "PATCH", f"/api/tasks/{task}/", {"title": f"Edit {number}"}, token
        )
        assert status == 200, body


async def test_clients_spread_over_three_hosts_lose_nothing_when_the_redis_master_and_a_host_fail(topology):
    hosts, apps, lb = topology.hosts, topology.apps, topology.lb
    owner, _ = await asyncio.to_thread(_user, lb)
    member, member_id = await asyncio.to_thread(_user, lb)
    status, project = await asyncio.to_thread(api, lb, "POST", "/api/projects/", {"name": "Across hosts"}, owner)
    assert status == 201
    status, _ = await asyncio.to_thread(
        api, apps[1], "POST", f"/api/projects/{project['id']}/members/", {"user": member_id}, owner
    )
    assert status == 201
    _, before = await asyncio.to_thread(api, apps[2], "GET", f"/api/projects/{project['id']}/", None, owner)
    start = before["event_seq"]

    # The member's six clients, two on each app host.
    followers = [
        Follower(url=apps[number % 3].ws, fallback=lb.ws, token=member, project=project["id"], since=start)
        for number in range(6)
    ]
    final: list[int] = []  # the project's last seq, once every write is made

    def done(follower: Follower) -> bool:
        return bool(final and follower.seqs) and follower.seqs[-1] >= final[0]

    following = [asyncio.create_task(follower.follow(done)) for follower in followers]
    tasks: list[int] = []
    await _write(apps[0], owner, project["id"], tasks, 0)
    await asyncio.wait_for(_seen_by_all(followers, start + 1), 30)

    writes = 1
    for number in range(writes, writes + 12):  # every host takes writes
        await _write(apps[number % 3], owner, project["id"], tasks, number)
    writes += 12

    # The cache's master dies; Sentinel promotes the replica; writes go on meanwhile.
    old_master = hosts["redis1"]
    old_master.stop("redis", sig=signal.SIGKILL)
    for number in range(writes, writes + 9):
        await _write(apps[number % 3], owner, project["id"], tasks, number)
    writes += 9
    await asyncio.to_thread(
        wait_until,
        lambda: sentinel_master(hosts["redis3"]) == hosts["redis2"].address,
        timeout=60,
        what="Sentinel's failover to redis2",
    )
    for app in apps:  # each host's cache now writes to the new master and reads back what it wrote
        await asyncio.to_thread(
            wait_until,
            lambda app=app: _get(f"{app.http}/readyz")[0] == 200,
            timeout=30,
            what=f"{app.http}/readyz after failover",
        )
        assert _get(f"{app.http}/readyz")[1]["checks"]["cache"] == "ok"

    # app3 stops: its clients are closed with 1012 and resume through nginx on app1 or app2.
    assert hosts["app3"].stop("ws") == 0
    assert hosts["app3"].stop("http") == 0
    for number in range(writes, writes + 12):
        await _write([apps[0], apps[1], lb][number % 3], owner, project["id"], tasks, number)
    writes += 12

    _, after = await asyncio.to_thread(api, lb, "GET", f"/api/projects/{project['id']}/", None, owner)
    final.append(after["event_seq"])
    assert final[0] == start + writes  # one event per write
    await asyncio.wait_for(asyncio.gather(*following), 60)

    expected = list(range(start + 1, final[0] + 1))
    for follower in followers:
        assert follower.seqs == expected, follower  # each seq once, in order, nothing lost
    moved = [follower for follower in followers if follower.urls[0] == apps[2].ws]
    assert len(moved) == 2
    for follower in moved:
        assert follower.closes == [1012]
        assert follower.urls == [apps[2].ws, lb.ws]
    for follower in followers:
        if follower not in moved:
            assert follower.closes == [] and follower.urls == [follower.url]

    # A file uploaded through one host downloads through another, from the shared S3 bucket.
    content = os.urandom(100_000)
    status, attachment = await asyncio.to_thread(_upload, apps[0], tasks[0], owner, "plan.bin", content)
    assert status == 201
    downloaded, _ = await asyncio.to_thread(_download, apps[1], attachment["id"], member)
    assert downloaded == content
    stored = boto3.client("s3", endpoint_url=f"http://{hosts['s3'].address}:5000", region_name="us-east-1", **_aws())
    assert stored.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


async def _seen_by_all(followers: list[Follower], seq: int) -> None:
    while not all(follower.seqs and follower.seqs[-1] >= seq for follower in followers):
        await asyncio.sleep(0.05)
