"""The per-process check that no subscribed socket stays behind the event log.

The channel layer can lose messages (a Redis restart, a dropped pub/sub connection). Every
TASKFLOW_WS_CHECK_SECONDS the watcher reads the latest seq of every project subscribed in this
process (one query for all of them, not one per socket) and brings up to date every socket that
was already behind at the previous check: those the fast path had a whole interval to reach.
"""

import asyncio
import logging

from django.conf import settings

from realtime import access

logger = logging.getLogger(__name__)


class SeqWatcher:
    def __init__(self) -> None:
        self.subscribers: dict[int, set] = {}  # project id -> consumers subscribed in this process
        self.seen: dict[int, int] = {}  # project id -> latest seq read at the previous check
        self.task: asyncio.Task | None = None

    def watch(self, project_id: int, consumer) -> None:
        self.subscribers.setdefault(project_id, set()).add(consumer)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._run())

    def unwatch(self, project_id: int, consumer) -> None:
        consumers = self.subscribers.get(project_id)
        if consumers is not None:
            consumers.discard(consumer)
            if not consumers:
                del self.subscribers[project_id]
                self.seen.pop(project_id, None)

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(settings.TASKFLOW_WS_CHECK_SECONDS)
            try:
                await self.check()
            except Exception:
                logger.exception("Event log check failed; retrying in %ss.", settings.TASKFLOW_WS_CHECK_SECONDS)

    async def check(self) -> None:
        """Compare each subscribed project's seq with what its sockets delivered, and catch them up."""
        project_ids = list(self.subscribers)
        seqs = await access.project_event_seqs(project_ids)
        for project_id in project_ids:
            consumers = list(self.subscribers.get(project_id, ()))
            current = seqs.get(project_id)
            if current is None:
                for consumer in consumers:
                    await consumer.project_gone(project_id)
                continue
            previous = self.seen.get(project_id, 0)
            self.seen[project_id] = current
            behind = [c for c in consumers if c.last_seq.get(project_id, previous) < previous]
            if not behind:
                continue
            oldest = min(c.last_seq.get(project_id, previous) for c in behind)
            frames = await access.event_frames(
                project_id, after=oldest, upto=previous, limit=settings.TASKFLOW_WS_REPLAY_BATCH
            )
            logger.info("%d socket(s) behind on project %s; catching up from the log.", len(behind), project_id)
            for consumer in behind:
                await consumer.deliver(project_id, frames, upto=previous)


seq_watcher = SeqWatcher()
