"""The sync promise, as a property (hypothesis), on two real server processes.

Each example is a random program run against a new project: groups of writes sent at the same
time by three members to either server (creates, updates with a current or stale `If-Match`, with
and without `Prefer: merge`, deletes, comments, batches with temp ids), repeats of a write with its
`Idempotency-Key` to either server, and subscribers that drop their socket and resume with `since`
on the other server, one of them with a random filter. After each program, once every subscriber
has caught up with the project's latest seq:

- every subscriber was told of every seq exactly once, in order (as an event or inside a skip),
  across all its reconnections;
- every subscriber's copy (taskflow_client.ProjectMirror) equals a fresh read of its view;
- every repeat got the first answer back, replayed, and the log holds one `task.created` per
  create that answered 201, whichever server it reached and however often it was sent;
- each task's version is 1 plus its `task.updated` events.

In the MySQL + Redis pass the servers share MySQL and Redis. In the embedded pass they share a
SQLite file, and each has its own in-memory channel layer: what one server's writers commit reaches
the other's sockets through its check of the log (every TASKFLOW_WS_CHECK_SECONDS, small here).
The examples are bounded (MAX_EXAMPLES, no shrinking: a failure prints the program that failed).
"""

import asyncio
import contextlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import websockets
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from taskflow_client import ApiError, Client, ProjectMirror

from realtime.tests.servers import TaskFlowServer, api, started, wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = 20
# Tasks each project starts with, so that the first updates have something to change.
SEED_TASKS = 3
PASSWORD = "a-long-passphrase-1"
CATCH_UP_SECONDS = 20
STATUSES = ["todo", "in_progress", "done", "cancelled"]
PRIORITIES = ["low", "medium", "high", "urgent"]
LABELS = ["bug", "ui", "docs"]
# A write answered with these is sent again with the same key, as a client does.
RETRY_STATUSES = {409, 429, 503}
RETRY_ATTEMPTS = 20


# --- The servers and the team -------------------------------------------------------------------


@pytest.fixture
def servers(servers_database):
    """Two server processes on one database (realtime.tests.servers, `servers_database`)."""
    prefix = f"prop{uuid.uuid4().hex[:8]}"
    pair = [
        TaskFlowServer(server="uvicorn", channel_prefix=prefix, TASKFLOW_WS_CHECK_SECONDS="0.3", **servers_database)
        for _ in range(2)
    ]
    with started(pair):
        yield pair


@dataclass
class Member:
    id: int
    username: str
    # One client per server, signed in as this member.
    clients: list[Client]


@pytest.fixture
def team(servers) -> list[Member]:
    """Three users, each signed in on both servers."""
    members = []
    for _ in range(3):
        name = f"prop-{uuid.uuid4().hex[:8]}"
        registered, _ = api(
            servers[0],
            "POST",
            "/api/auth/register/",
            {"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert registered == 201
        clients = [Client(server.http, username=name, password=PASSWORD) for server in servers]
        members.append(Member(id=clients[0].me()["id"], username=name, clients=clients))
    return members


def project_for(team: list[Member]) -> int:
    """A new project of the first member, with the other two as members."""
    owner = team[0].clients[0]
    project = owner.request("POST", "/api/projects/", {"name": f"Property {uuid.uuid4().hex[:6]}"}).body["id"]
    for member in team[1:]:
        owner.request("POST", f"/api/projects/{project}/members/", {"user": member.id, "role": "member"})
    return project


# --- Subscribers ---------------------------------------------------------------------------------


class Subscriber:
    """A socket that follows the project into a ProjectMirror and records every seq it was told of,
    in the order it was told, across its reconnections; `move_to()` drops the socket and resumes on
    the given server from the last seq it has."""

    def __init__(self, servers, member: Member, project: int, filter: dict | None) -> None:
        self.servers, self.member, self.project = servers, member, project
        self.mirror = ProjectMirror(filter=filter, user_id=member.id)
        self.seqs: list[int] = []
        self.server_index = 0
        self._moved = asyncio.Event()
        self.failure: BaseException | None = None

    async def run(self) -> None:
        try:
            while True:
                self._moved.clear()
                await self._follow_once()
        except asyncio.CancelledError:
            raise
        except BaseException as failure:
            self.failure = failure

    def move_to(self, server_index: int) -> None:
        self.server_index = server_index
        self._moved.set()

    async def _follow_once(self) -> None:
        server = self.servers[self.server_index]
        token = await asyncio.to_thread(self.member.clients[self.server_index].access_token)
        try:
            async with websockets.connect(server.ws, max_size=2**20) as socket:
                await socket.send(json.dumps({"type": "auth", "token": token}))
                subscribe = {"type": "subscribe", "project": self.project, "since": self.mirror.seq}
                if self.mirror.filter is not None:
                    subscribe["filter"] = self.mirror.filter
                await socket.send(json.dumps(subscribe))
                moved = asyncio.create_task(self._moved.wait())
                try:
                    while not moved.done():
                        receive = asyncio.create_task(socket.recv())
                        await asyncio.wait({receive, moved}, return_when=asyncio.FIRST_COMPLETED)
                        if not receive.done():
                            receive.cancel()
                            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                                await receive
                            break
                        self._take(json.loads(receive.result()))
                finally:
                    moved.cancel()
        except (OSError, websockets.ConnectionClosed):
            await asyncio.sleep(0.1)  # a server restarting or refusing: resume in a moment

    def _take(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "event" and frame["project"] == self.project:
            self.seqs.append(frame["seq"])
            self.mirror.apply(frame)
        elif kind == "skip" and frame["project"] == self.project:
            self.seqs.extend(range(frame["from"], frame["to"] + 1))
            self.mirror.skip(frame)
        elif kind in ("error", "reset", "revoked"):
            raise AssertionError(f"unexpected frame {frame}")


class SubscriberLoop:
    """The subscribers' event loop, in a thread of its own, while the test thread writes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[asyncio.Task] = []

    def start(self, subscriber: Subscriber) -> None:
        async def start() -> None:
            self.tasks.append(asyncio.create_task(subscriber.run()))

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)

    def call(self, function, *args) -> None:
        self.loop.call_soon_threadsafe(function, *args)

    def stop(self) -> None:
        """Cancel the subscribers, wait for their sockets to close, and end the loop."""

        async def cancel() -> None:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


# --- Programs ------------------------------------------------------------------------------------

fields = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(alphabet="abcdefgh ", min_size=1, max_size=12).filter(str.strip),
        "status": st.sampled_from(STATUSES),
        "priority": st.sampled_from(PRIORITIES),
        "labels": st.lists(st.sampled_from(LABELS), max_size=2, unique=True),
        "assignee": st.one_of(st.none(), st.integers(0, 2)),  # a member's index
    },
)
# An update changes at least one of them.
one_field = st.one_of(
    st.builds(lambda status: {"status": status}, st.sampled_from(STATUSES)),
    st.builds(lambda priority: {"priority": priority}, st.sampled_from(PRIORITIES)),
    st.builds(lambda labels: {"labels": labels}, st.lists(st.sampled_from(LABELS), max_size=2, unique=True)),
)
create = st.builds(lambda f: ("create", f), fields)
update = st.builds(
    lambda task, f, version, merge: ("update", task, f, version, merge),
    st.integers(0, 50),
    st.tuples(one_field, fields).map(lambda drawn: {**drawn[1], **drawn[0]}),
    st.sampled_from(["none", "current", "stale"]),
    st.booleans(),
)
delete = st.builds(lambda task: ("delete", task), st.integers(0, 50))
comment = st.builds(lambda task: ("comment", task), st.integers(0, 50))
batch = st.builds(
    lambda commands: ("batch", commands),
    st.lists(st.one_of(create, update), min_size=1, max_size=4),
)
write = st.tuples(
    st.integers(0, 2),  # the writer
    st.integers(0, 1),  # the server
    st.one_of(create, create, update, update, delete, comment, batch),
)
writes = st.builds(lambda group: ("writes", group), st.lists(write, min_size=1, max_size=4))
step = st.one_of(
    writes,
    writes,
    writes,
    st.builds(lambda server: ("repeat", server), st.integers(0, 1)),
    st.builds(lambda who, server: ("move", who, server), st.integers(0, 1), st.integers(0, 1)),
)
view_filter = st.one_of(
    st.just({"status": ["todo", "in_progress"]}),
    st.just({"assignee": "me"}),
    st.builds(
        lambda labels: {"labels": labels}, st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True)
    ),
    st.builds(lambda status: {"assignee": "me", "status": [status]}, st.sampled_from(STATUSES)),
)


@dataclass
class Sent:
    """A write as sent, with its key, and its first answer (status, body)."""

    kind: str
    writer: Member
    method: str
    path: str
    body: dict | None
    headers: dict[str, str]
    status: int = 0
    answer: object = None
    creates: int = 0  # tasks it made when it answered 2xx


@dataclass
class Run:
    """What a program did, for the checks after it."""

    team: list[Member]
    project: int
    tasks: list[int] = field(default_factory=list)  # every task made, in order, deleted or not
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def task(self, index: int) -> int | None:
        with self.lock:
            return self.tasks[index % len(self.tasks)] if self.tasks else None


def send(client: Client, sent: Sent) -> tuple[int, object, dict]:
    """Send `sent` once with its key; (status, body, headers), whatever the status."""
    try:
        response = client.request(sent.method, sent.path, sent.body, headers=sent.headers)
        return response.status, response.body, response.headers
    except ApiError as error:
        return error.status, error.body, error.headers


def send_until_answered(client: Client, sent: Sent) -> tuple[int, object, dict]:
    """Send with the same key until the answer is final (a 409, 429 or 503 says: again later)."""
    for _ in range(RETRY_ATTEMPTS):
        status, body, headers = send(client, sent)
        if status not in RETRY_STATUSES:
            return status, body, headers
        time.sleep(0.05)
    raise AssertionError(f"{sent.method} {sent.path} still answered {status} after {RETRY_ATTEMPTS} attempts")


def task_fields(run: Run, drawn: dict) -> dict:
    """The request's fields from drawn ones (an assignee drawn as a member's index)."""
    body = dict(drawn)
    if "assignee" in body and body["assignee"] is not None:
        body["assignee"] = run.team[body["assignee"]].id
    return body


def version_for(client: Client, task: int, drawn: str) -> int | None:
    """The `If-Match` version to send: none, the task's current one, or one it had before."""
    if drawn == "none":
        return None
    try:
        current = client.request("GET", f"/api/tasks/{task}/").body["version"]
    except ApiError:
        return None  # deleted meanwhile: the write is then a 404 either way
    return current if drawn == "current" else max(1, current - 1)


def request_for(run: Run, writer: Member, server: int, operation: tuple) -> Sent | None:
    """The request an operation makes now (None: there is no task for it yet)."""
    client = writer.clients[server]
    kind = operation[0]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    if kind == "create":
        body = {"project": run.project, **task_fields(run, operation[1])}
        body.setdefault("title", "untitled")
        return Sent("create", writer, "POST", "/api/tasks/", body, headers)
    if kind == "batch":
        commands = []
        for index, command in enumerate(operation[1]):
            if command[0] == "create":
                args = {"project": run.project, "title": "batched", **task_fields(run, command[1])}
                commands.append({"op": "task.create", "temp_id": f"t{index}", "args": args})
            else:
                _, task_index, drawn, _, _ = command
                earlier = [c["temp_id"] for c in commands if c["op"] == "task.create"]
                target = earlier[task_index % len(earlier)] if earlier and task_index % 2 else run.task(task_index)
                if target is None:
                    continue
                commands.append({"op": "task.update", "id": target, "args": task_fields(run, drawn)})
        if not commands:
            return None
        return Sent("batch", writer, "POST", "/api/batch/", {"commands": commands}, headers)
    task = run.task(operation[1])
    if task is None:
        return None
    if kind == "delete":
        return Sent("delete", writer, "DELETE", f"/api/tasks/{task}/", None, headers)
    if kind == "comment":
        return Sent("comment", writer, "POST", f"/api/tasks/{task}/comments/", {"body": "noted"}, headers)
    _, _, drawn, version, merge = operation
    version = version_for(client, task, version)
    if version is not None:
        headers["If-Match"] = f'"{version}"'
        if merge:
            headers["Prefer"] = "merge"
    kind = "merge" if "Prefer" in headers else "update" if "If-Match" in headers else "blind update"
    return Sent(kind, writer, "PATCH", f"/api/tasks/{task}/", task_fields(run, drawn), headers)


def write_now(run: Run, writer: Member, server: int, operation: tuple) -> None:
    sent = request_for(run, writer, server, operation)
    if sent is None:
        return
    sent.status, sent.answer, _ = send_until_answered(writer.clients[server], sent)
    assert sent.status < 500, (sent.method, sent.path, sent.status, sent.answer)
    made = []
    if sent.status == 201 and sent.method == "POST" and sent.path == "/api/tasks/":
        made = [sent.answer["id"]]
    elif sent.status == 200 and sent.path == "/api/batch/":
        made = list(sent.answer["temp_id_mapping"].values())
    sent.creates = len(made)
    with run.lock:
        run.tasks.extend(made)
        run.sent.append(sent)


def repeat_last(run: Run, server: int) -> None:
    """Send the last write again, same key, to `server`: it must be answered as the first time."""
    if not run.sent:
        return
    sent = run.sent[-1]
    status, answer, headers = send_until_answered(sent.writer.clients[server], sent)
    assert (status, answer) == (sent.status, sent.answer), f"a repeat of {sent.method} {sent.path}"
    assert headers.get("Idempotency-Replayed") == "true"


def fresh_view(client: Client, project: int, mirror: ProjectMirror) -> dict:
    tasks = client.list_all(f"/api/tasks/?project={project}&page_size=200")
    return {task["id"]: task for task in tasks if mirror.matches(task)}


def events_of(client: Client, project: int) -> list[dict]:
    events, since = [], 0
    while True:
        page = client.request("GET", f"/api/projects/{project}/events/?since={since}&limit=500").body
        events += page["events"]
        if not page["has_more"]:
            return events
        since = page["last_seq"]


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(program=st.lists(step, min_size=5, max_size=14), filtered=view_filter)
def test_every_subscriber_sees_every_seq_once_and_ends_equal_to_the_database(servers, team, program, filtered):
    run = Run(team=team, project=project_for(team))
    for _ in range(SEED_TASKS):
        write_now(run, team[0], 0, ("create", {}))
    subscribers = [
        Subscriber(servers, team[1], run.project, None),
        Subscriber(servers, team[2], run.project, filtered),
    ]
    loop = SubscriberLoop()
    try:
        for subscriber in subscribers:
            loop.start(subscriber)
        with ThreadPoolExecutor(max_workers=3) as pool:
            for operation in program:
                if operation[0] == "writes":
                    futures = [pool.submit(write_now, run, team[w], s, op) for w, s, op in operation[1]]
                    for future in futures:
                        future.result()
                elif operation[0] == "repeat":
                    repeat_last(run, operation[1])
                else:
                    _, who, server = operation
                    loop.call(subscribers[who].move_to, server)

        reader = team[0].clients[0]
        latest = reader.request("GET", f"/api/projects/{run.project}/").body["event_seq"]

        def caught_up() -> bool:
            for subscriber in subscribers:
                assert subscriber.failure is None, subscriber.failure
            return all(subscriber.mirror.seq >= latest for subscriber in subscribers)

        wait_until(caught_up, timeout=CATCH_UP_SECONDS, what=f"every subscriber reaching seq {latest}")
    finally:
        loop.stop()

    # What the examples did (pytest --hypothesis-show-statistics).
    for sent in run.sent:
        event(f"{sent.kind}: {sent.status}")
    event(f"seqs in the project: {latest // 10 * 10}+")
    event(f"subscribers moved: {sum(operation[0] == 'move' for operation in program)}")
    event(f"writes repeated: {sum(operation[0] == 'repeat' for operation in program)}")
    for subscriber in subscribers:
        assert subscriber.seqs == list(range(1, latest + 1)), f"seqs told to {subscriber.member.username}"
        assert subscriber.mirror.tasks == fresh_view(reader, run.project, subscriber.mirror)
        members = reader.list_all(f"/api/projects/{run.project}/members/")
        assert subscriber.mirror.members == {member["user"]: member for member in members}

    events = events_of(reader, run.project)
    assert [record["seq"] for record in events] == list(range(1, latest + 1))
    created = [record["data"]["id"] for record in events if record["type"] == "task.created"]
    assert sorted(created) == sorted(run.tasks)
    assert len(created) == sum(sent.creates for sent in run.sent)
    updates: dict[int, int] = {}
    for record in events:
        if record["type"] == "task.updated":
            updates[record["data"]["id"]] = updates.get(record["data"]["id"], 0) + 1
    for task in reader.list_all(f"/api/tasks/?project={run.project}&page_size=200"):
        assert task["version"] == 1 + updates.get(task["id"], 0), f"task {task['id']}"
