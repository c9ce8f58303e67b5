"""A local copy of one TaskFlow project (its details, members and tasks), kept by applying events.

`ProjectMirror.apply()` is the whole state machine of docs/realtime.md's table of events: every
event carries the whole object after the change, so applying one is storing or removing it. The
mirror remembers the last seq it accounted for (`seq`), from an event or a `skip`, and ignores
anything at or below it: a replay that overlaps what it has already applied changes nothing.

With a `filter` (docs/realtime.md, "Filtered subscriptions") the copy holds only the tasks in that
view: a task that stops matching is dropped, with its comments and attachments.
"""

from collections.abc import Iterable
from urllib.parse import urlencode

from taskflow_client.http import ApiError, Client

FILTER_FIELDS = frozenset({"assignee", "status", "labels"})
# Task lists are read in pages of the largest size the server gives.
PAGE_SIZE = 200


class ProjectMirror:
    """The copy. `filter` is a subscription filter (`{"assignee": <id or "me">, "status": [...],
    "labels": [...]}`, any subset); `user_id` is who "me" is (load_from() asks the server when it
    is not given)."""

    def __init__(self, *, filter: dict | None = None, user_id: int | None = None) -> None:
        if filter is not None and not (isinstance(filter, dict) and filter.keys() <= FILTER_FIELDS):
            raise ValueError(f"`filter` is a dict with any of {', '.join(sorted(FILTER_FIELDS))}.")
        self.filter = filter
        self.user_id = user_id
        self.project: dict = {}
        self.members: dict[int, dict] = {}
        self.tasks: dict[int, dict] = {}
        self.comments: dict[int, dict] = {}
        self.attachments: dict[int, dict] = {}
        self.seq = 0
        # Set by follow() when the user may no longer see the project (removed, or it was deleted).
        self.revoked = False

    def load(
        self,
        *,
        project: dict,
        members: list[dict],
        tasks: list[dict],
        seq: int,
        comments: Iterable[dict] = (),
        attachments: Iterable[dict] = (),
    ) -> None:
        """Replace the copy by a state as read at `seq` (with the comments and attachments of
        the tasks it follows closely, if any)."""
        self.project = {key: value for key, value in project.items() if key not in ("role", "event_seq")}
        self.members = {member["user"]: member for member in members}
        self.tasks = {task["id"]: task for task in tasks if self.matches(task)}
        self.comments = {comment["id"]: comment for comment in comments if comment["task"] in self.tasks}
        self.attachments = {item["id"]: item for item in attachments if item["task"] in self.tasks}
        self.seq = seq

    def load_from(self, client: Client, project_id: int) -> None:
        """Load the project over REST. The task list comes first: its `X-Event-Seq` was read
        before the tasks, so following from it misses nothing (an event the load already reflects
        may come again, and applying it again is harmless)."""
        query = {"project": project_id, "page_size": PAGE_SIZE}
        if self.filter is not None:
            if self.filter.get("assignee") == "me" and self.user_id is None:
                self.user_id = client.me()["id"]
            # The server narrows the list by status and assignee; labels (any of several, as the
            # subscription matches them) are left to matches().
            if "status" in self.filter:
                query["status"] = ",".join(self.filter["status"])
            if "assignee" in self.filter:
                query["assignee"] = self.filter["assignee"]
        pages = client.pages(f"/api/tasks/?{urlencode(query)}")
        try:
            first = next(pages)
        except ApiError as error:
            if error.status == 400 and self.filter is not None:
                raise ValueError(f"The server refused the filter: {error.body}") from error
            raise
        tasks = first.body["results"] + [task for page in pages for task in page.body["results"]]
        members = client.list_all(f"/api/projects/{project_id}/members/?page_size={PAGE_SIZE}")
        project = client.request("GET", f"/api/projects/{project_id}/").body
        self.load(project=project, members=members, tasks=tasks, seq=int(first.headers["X-Event-Seq"]))

    def matches(self, task: dict) -> bool:
        """Whether `task` is in this mirror's view (always, without a filter)."""
        if self.filter is None:
            return True
        assignee = self.filter.get("assignee")
        if assignee == "me":
            if self.user_id is None:
                raise ValueError('A filter on assignee "me" needs the mirror\'s `user_id`.')
            assignee = self.user_id
        return (
            (assignee is None or task["assignee"] == assignee)
            and ("status" not in self.filter or task["status"] in self.filter["status"])
            and ("labels" not in self.filter or not set(self.filter["labels"]).isdisjoint(task["labels"]))
        )

    def apply(self, event: dict) -> bool:
        """Apply one event (a WebSocket `event` frame or a changes-feed record); False when its
        seq was accounted for already, and nothing changed."""
        if event["seq"] <= self.seq:
            return False
        kind, data = event.get("event") or event["type"], event["data"]
        if kind in ("task.created", "task.updated"):
            if self.matches(data):
                self.tasks[data["id"]] = data
            else:  # it left the view (or never was in it)
                self._forget_task(data["id"])
        elif kind == "task.deleted":
            self._forget_task(data["id"])
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
        # Invitations are not part of the copy: their seqs only move it on.
        self.seq = event["seq"]
        return True

    def skip(self, frame: dict) -> None:
        """A `skip` frame: seqs `from` to `to` happened outside the filter's view."""
        self.seq = max(self.seq, frame["to"])

    def _forget_task(self, task_id: int) -> None:
        """A task gone from the copy takes its comments and attachments with it (a deleted task's
        go without events of their own)."""
        self.tasks.pop(task_id, None)
        for objects in (self.comments, self.attachments):
            for key in [key for key, value in objects.items() if value["task"] == task_id]:
                del objects[key]
