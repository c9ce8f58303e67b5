"""Presence: who is looking at a project, and at which of its tasks, across server processes.

Not events: nothing is written to the database or the event log, and presence has no seq. Each
process knows its own sockets' presence (a socket says `{"type": "presence", "project", "task"}`)
and tells the other processes through the channel layer (Redis when configured): a message with
its whole list for the project, sent whenever that list changes and again at every hub check, and
kept by the others for a few check intervals only. So a process that dies without a word stops
counting by itself, soon after its sockets did.

Every process merges the lists it knows of a project and sends the merged list to its own
subscribers of the project whenever it changes: within a moment of the change (one channel-layer
hop), not at the next check. A socket leaves when it closes, unsubscribes, or sends no frame for
TASKFLOW_WS_PRESENCE_SECONDS.
"""

import json
import time
import uuid

from django.conf import settings

from realtime.events import project_group

# The channel-layer messages between processes.
ANNOUNCE = "project.presence"
QUERY = "project.presence_query"


def presence_frame(project_id: int, viewers: list[dict]) -> str:
    """The `presence` frame of a project, encoded once for all its subscribers here."""
    return json.dumps({"type": "presence", "project": project_id, "viewers": viewers}, separators=(",", ":"))


class Presence:
    """One process's view of who looks at which project (owned by its ProjectHub)."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.process = uuid.uuid4().hex  # tells this process's announcements from the others'
        self.local: dict[int, dict] = {}  # project id -> {consumer: (user id, username, task id)}
        self.remote: dict[int, dict[str, tuple[list[dict], float]]] = {}  # project -> process -> (viewers, until)
        self.told: dict[int, list[dict]] = {}  # project id -> the list its subscribers here were sent

    # --- This process's sockets -------------------------------------------------------------------

    async def look(self, consumer, project_id: int, task_id: int | None) -> None:
        """`consumer`'s user now looks at the project (at `task_id`, or at no task in particular)."""
        viewers = self.local.setdefault(project_id, {})
        entry = (consumer.user.pk, consumer.user.username, task_id)
        if viewers.get(consumer) != entry:
            viewers[consumer] = entry
            await self._announce(project_id)

    async def leave(self, consumer, project_id: int) -> None:
        viewers = self.local.get(project_id)
        if viewers is None or consumer not in viewers:
            return
        del viewers[consumer]
        if not viewers:
            del self.local[project_id]
        await self._announce(project_id)

    async def expire(self, subscribers: dict[int, set]) -> None:
        """At each hub check: drop the sockets silent for too long and the other processes' lists
        that were not renewed, renew this process's lists with the others, and tell what changed."""
        quiet_since = time.monotonic() - settings.TASKFLOW_WS_PRESENCE_SECONDS
        for project_id, viewers in list(self.local.items()):
            for consumer in [consumer for consumer in viewers if consumer.last_heard < quiet_since]:
                await self.leave(consumer, project_id)
        for project_id in list(self.local):
            await self._announce(project_id)  # renewed before the others let it expire
        now = time.monotonic()
        for project_id, processes in list(self.remote.items()):
            expired = [process for process, (_, until) in processes.items() if until <= now]
            for process in expired:
                del processes[process]
            if not processes:
                del self.remote[project_id]
            if expired:
                self._tell(project_id, subscribers)

    # --- Between processes ------------------------------------------------------------------------

    async def _announce(self, project_id: int) -> None:
        """Send this process's list for the project to every process (this one included)."""
        viewers = [
            {"user": user_id, "username": username, "task": task_id}
            for user_id, username, task_id in self.local.get(project_id, {}).values()
        ]
        message = {"type": ANNOUNCE, "project": project_id, "process": self.process, "viewers": viewers}
        # This process hears itself too: its own list is merged like the others'.
        await self.layer.group_send(project_group(project_id), message)

    async def query(self, project_id: int) -> None:
        """Ask every process for its list of a project this process starts to follow."""
        await self.layer.group_send(project_group(project_id), {"type": QUERY, "project": project_id})

    async def take(self, message: dict, subscribers: dict[int, set]) -> None:
        """A presence message from the channel layer."""
        project_id = message["project"]
        if message["type"] == QUERY:
            if project_id in self.local:
                await self._announce(project_id)
            return
        processes = self.remote.setdefault(project_id, {})
        if message["viewers"]:
            until = time.monotonic() + 3 * settings.TASKFLOW_WS_CHECK_SECONDS + 1
            processes[message["process"]] = (message["viewers"], until)
        else:
            processes.pop(message["process"], None)
        if not processes:
            del self.remote[project_id]
        self._tell(project_id, subscribers)

    # --- To this process's subscribers ------------------------------------------------------------

    def viewers(self, project_id: int) -> list[dict]:
        """Everyone looking at the project, by every process's latest word: one entry per user and
        task, by username."""
        now = time.monotonic()
        entries = {
            (viewer["user"], viewer["username"], viewer["task"])
            for viewers, until in self.remote.get(project_id, {}).values()
            if until > now
            for viewer in viewers
        }
        return [
            {"user": user_id, "username": username, "task": task_id}
            for user_id, username, task_id in sorted(entries, key=lambda entry: (entry[1], entry[2] or 0))
        ]

    def _tell(self, project_id: int, subscribers: dict[int, set]) -> None:
        """Send the project's subscribers here the merged list, if it changed since they were told."""
        viewers = self.viewers(project_id)
        if viewers == self.told.get(project_id, []):
            return
        if viewers:
            self.told[project_id] = viewers
        else:
            self.told.pop(project_id, None)
        text = presence_frame(project_id, viewers)
        for consumer in list(subscribers.get(project_id, ())):
            consumer.presence(text)

    def forget(self, project_id: int) -> None:
        """Nobody here follows the project any more: what is known of it goes."""
        self.remote.pop(project_id, None)
        self.told.pop(project_id, None)
