"""Keep a local copy of one TaskFlow project in sync: its details, members and tasks.

An example client for docs/realtime.md. It needs only the `websockets` package:

    pip install websockets
    python taskflow_sync.py --url http://127.0.0.1:8000 --username demo-member \
        --password taskflow-demo --project 1

It loads the project over REST, subscribes on the WebSocket from the seq the load reflects, applies
every event to its copy, and on any disconnect reconnects and resumes from the last seq it applied,
so it never misses or repeats a change. When the server answers `reset` it reloads; when it answers
`revoked` (the user left the project, or it was deleted) it stops.
"""

import argparse
import asyncio
import json
import logging
import random
import urllib.error
import urllib.request

import websockets

logger = logging.getLogger("taskflow_sync")


class ProjectMirror:
    """The local copy: apply() turns the state before an event into the state after it."""

    def __init__(self) -> None:
        self.project: dict = {}
        self.members: dict[int, dict] = {}
        self.tasks: dict[int, dict] = {}
        self.comments: dict[int, dict] = {}
        self.attachments: dict[int, dict] = {}
        self.seq = 0

    def load(
        self,
        *,
        project: dict,
        members: list[dict],
        tasks: list[dict],
        seq: int,
        comments: list[dict] = (),
        attachments: list[dict] = (),
    ) -> None:
        """The state as read (comments and attachments of the tasks it follows closely, if any)."""
        self.project = {key: value for key, value in project.items() if key not in ("role", "event_seq")}
        self.members = {member["user"]: member for member in members}
        self.tasks = {task["id"]: task for task in tasks}
        self.comments = {comment["id"]: comment for comment in comments}
        self.attachments = {attachment["id"]: attachment for attachment in attachments}
        self.seq = seq

    def apply(self, event: dict) -> None:
        """Apply one event (a WebSocket `event` frame or a changes-feed record)."""
        kind, data = event.get("event") or event["type"], event["data"]
        if kind in ("task.created", "task.updated"):
            self.tasks[data["id"]] = data
        elif kind == "task.deleted":
            # A deleted task's comments and attachments go with it, without events of their own.
            self.tasks.pop(data["id"], None)
            for objects in (self.comments, self.attachments):
                for key in [key for key, value in objects.items() if value["task"] == data["id"]]:
                    del objects[key]
        elif kind == "project.updated":
            self.project.update(data)
        elif kind in ("member.added", "member.updated"):
            self.members[data["user"]] = data
        elif kind == "member.removed":
            self.members.pop(data["user"], None)
        elif kind in ("comment.created", "comment.updated"):
            self.comments[data["id"]] = data
        elif kind == "comment.deleted":
            self.comments.pop(data["id"], None)
        elif kind == "attachment.added":
            self.attachments[data["id"]] = data
        elif kind == "attachment.removed":
            self.attachments.pop(data["id"], None)
        self.seq = event["seq"]


class Revoked(Exception):
    """The user may no longer see the project."""


class TaskFlowClient:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.access = self.refresh = ""

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        return f"{scheme}://{self.base_url.split('://', 1)[1]}/ws/"

    def request(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        """One JSON request; returns (body, headers). Logs in again once when the access token lapsed."""
        for attempt in (1, 2):
            headers = {"Content-Type": "application/json"}
            if auth:
                headers["Authorization"] = f"Bearer {self.access}"
            request = urllib.request.Request(
                path if path.startswith("http") else self.base_url + path,
                method=method,
                data=json.dumps(body).encode() if body is not None else None,
                headers=headers,
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    payload = response.read()
                    return (json.loads(payload) if payload else None), response.headers
            except urllib.error.HTTPError as error:
                if error.code == 401 and auth and attempt == 1:
                    self.log_in()
                    continue
                if error.code == 404 and "/projects/" in path:
                    raise Revoked() from None
                raise
        raise AssertionError("unreachable")

    def log_in(self) -> None:
        """A fresh token pair: by refresh token when there is one, else by password."""
        if self.refresh:
            try:
                tokens, _ = self.request("POST", "/api/auth/token/refresh/", {"refresh": self.refresh}, auth=False)
                self.access, self.refresh = tokens["access"], tokens["refresh"]
                return
            except urllib.error.HTTPError:
                pass
        tokens, _ = self.request(
            "POST", "/api/auth/token/", {"username": self.username, "password": self.password}, auth=False
        )
        self.access, self.refresh = tokens["access"], tokens["refresh"]

    def list_all(self, path: str) -> tuple[list[dict], dict]:
        """Every page of a list endpoint; also the headers of the first page."""
        page, first_headers = self.request("GET", path)
        results = page["results"]
        while page["next"]:
            page, _ = self.request("GET", page["next"])
            results += page["results"]
        return results, first_headers

    def load(self, mirror: ProjectMirror, project_id: int) -> None:
        # The tasks list first: its X-Event-Seq is read before the tasks, so subscribing from it
        # misses nothing (an event the load already reflects is applied again, harmlessly).
        tasks, headers = self.list_all(f"/api/tasks/?project={project_id}&page_size=200")
        members, _ = self.list_all(f"/api/projects/{project_id}/members/?page_size=200")
        project, _ = self.request("GET", f"/api/projects/{project_id}/")
        mirror.load(project=project, members=members, tasks=tasks, seq=int(headers["X-Event-Seq"]))


async def follow(client: TaskFlowClient, mirror: ProjectMirror, project_id: int, *, on_change=None) -> None:
    """Keep `mirror` in sync until the project is revoked; reconnects with backoff, resuming by seq."""
    await asyncio.to_thread(client.log_in)
    await asyncio.to_thread(client.load, mirror, project_id)
    backoff = 0.5
    while True:
        close_code = None
        try:
            async with websockets.connect(client.ws_url) as socket:
                await socket.send(json.dumps({"type": "auth", "token": client.access}))
                await socket.send(json.dumps({"type": "subscribe", "project": project_id, "since": mirror.seq}))
                renewal = asyncio.create_task(_renew_tokens(client, socket))
                try:
                    async for message in socket:
                        frame = json.loads(message)
                        kind = frame["type"]
                        if kind == "event" and frame["project"] == project_id:
                            mirror.apply(frame)
                            if on_change is not None:
                                on_change(mirror, frame)
                        elif kind == "subscribed":
                            backoff = 0.5
                        elif kind == "reset":
                            await asyncio.to_thread(client.load, mirror, project_id)
                            await socket.send(json.dumps({"type": "subscribe", "project": project_id}))
                        elif kind == "revoked" or (kind == "error" and frame.get("code") == "not_found"):
                            raise Revoked()
                finally:
                    renewal.cancel()
        except Revoked:
            logger.info("Project %s is no longer visible to %s; stopping.", project_id, client.username)
            return
        except websockets.ConnectionClosed as exc:
            close_code = exc.rcvd.code if exc.rcvd else None
            logger.info("Disconnected (%s); resuming from seq %s.", close_code, mirror.seq)
        except OSError as exc:
            logger.info("Cannot connect (%s); retrying.", exc)
        if close_code == 4401:  # the session lapsed: a new access token before reconnecting
            await asyncio.to_thread(client.log_in)
        await asyncio.sleep(backoff + random.random() * backoff)
        backoff = min(backoff * 2, 30)


async def _renew_tokens(client: TaskFlowClient, socket, every_seconds: float = 120) -> None:
    """Renew the socket's session before the access token (minutes) expires."""
    while True:
        await asyncio.sleep(every_seconds)
        await asyncio.to_thread(client.log_in)
        await socket.send(json.dumps({"type": "auth", "token": client.access}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--project", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    def show(mirror: ProjectMirror, frame: dict) -> None:
        print(f"seq {frame['seq']:>5} {frame['event']:<16} tasks: {len(mirror.tasks)}, members: {len(mirror.members)}")

    client = TaskFlowClient(args.url, args.username, args.password)
    asyncio.run(follow(client, ProjectMirror(), args.project, on_change=show))


if __name__ == "__main__":
    main()
