"""Each server process's link between the channel layer and its WebSocket sockets.

A process listens on the channel layer once per project that any of its sockets follows, and once
per user signed in on any of its sockets (personal notifications), not once per socket, and hands
every message to those sockets' outboxes: with a thousand subscribers an event
crosses Redis once and is decoded once per process. The hub also checks the event log every
TASKFLOW_WS_CHECK_SECONDS (one query for all subscribed projects) so that no socket stays behind
when the channel layer loses a message (a Redis restart, a dropped pub/sub connection).

When the layer itself fails, the hub does not wait for that check. Redis's pub/sub layer hides a
lost connection (its receive just waits while the subscription is re-established in the
background, and what is published meanwhile is gone), so the hub sends itself a probe through the
layer every LAYER_PROBE_SECONDS. A probe that cannot be sent, or does not come back, means the
layer is losing messages: from then on the hub reads the log at every probe and catches every
socket up, and once probes come back again it re-joins its groups and catches up once more.
"""

import asyncio
import itertools
import logging
import os
import socket
import time
import weakref

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

from realtime import access
from realtime.events import project_group, user_group
from realtime.presence import ANNOUNCE as PRESENCE_ANNOUNCE
from realtime.presence import QUERY as PRESENCE_QUERY
from realtime.presence import Presence

logger = logging.getLogger(__name__)

# How often the hub checks that the channel layer carries its messages, and, while it does not,
# how often it reads the log instead; how long a probe may take to come back before the layer is
# taken to be losing messages. Together they bound how long a socket waits after a Redis restart.
LAYER_PROBE_SECONDS = 0.2
LAYER_ECHO_TIMEOUT_SECONDS = 0.3


class ProjectHub:
    """The sockets of this process (of this event loop) by project, fed from one layer channel."""

    _hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProjectHub]" = weakref.WeakKeyDictionary()

    @classmethod
    def current(cls) -> "ProjectHub":
        """The hub of the running event loop."""
        loop = asyncio.get_running_loop()
        hub = cls._hubs.get(loop)
        if hub is None:
            hub = cls._hubs[loop] = cls()
        return hub

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.subscribers: dict[int, set] = {}  # project id -> consumers following it here
        self.users: dict[int, set] = {}  # user id -> this user's consumers here
        self.seen: dict[int, int] = {}  # project id -> latest seq read at the previous check
        self.released: dict[int, int] = {}  # project id -> last seq handed to its sockets in order
        self.held: dict[int, dict[int, dict]] = {}  # project id -> events waiting for a missing seq
        self.gap_timers: dict[int, asyncio.Task] = {}
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.membership_lock = asyncio.Lock()
        self.layer_failing = False  # probes stopped coming back: the layer may be losing messages
        self.probes: dict[int, asyncio.Future] = {}  # probe number -> waiting for it to come back
        self.probe_numbers = itertools.count()
        self.presence = Presence(self.layer)

    async def _listen(self) -> None:
        """Open this process's layer channel on first use (under the membership lock)."""
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            self.tasks = [
                asyncio.create_task(self._receive()),
                asyncio.create_task(self._check_periodically()),
                asyncio.create_task(self._watch_layer()),
            ]

    async def follow_user(self, user_id: int, consumer) -> None:
        """Hand the user's personal notifications to `consumer` (a socket signed in as them)."""
        await self._join(self.users, user_id, user_group(user_id), consumer)

    async def unfollow_user(self, user_id: int, consumer) -> None:
        await self._leave(self.users, user_id, user_group(user_id), consumer)

    async def subscribe(self, project_id: int, consumer) -> None:
        """Start handing the project's events to `consumer`; from here on none is missed."""
        if await self._join(self.subscribers, project_id, project_group(project_id), consumer):
            await self.presence.query(project_id)  # new here: who is looking at it elsewhere?

    async def unsubscribe(self, project_id: int, consumer) -> None:
        await self.presence.leave(consumer, project_id)
        await self._leave(
            self.subscribers, project_id, project_group(project_id), consumer, on_last=self._forget_project
        )

    def _forget_project(self, project_id: int) -> None:
        """Drop what the hub keeps about a project nobody here follows any more."""
        for state in (self.seen, self.released, self.held):
            state.pop(project_id, None)
        if (timer := self.gap_timers.pop(project_id, None)) is not None:
            timer.cancel()
        self.presence.forget(project_id)

    async def _join(self, members: dict[int, set], key: int, group: str, consumer) -> bool:
        """Add `consumer` under `key`; the process joins `group` with its first consumer (and
        then says so: True)."""
        async with self.membership_lock:
            await self._listen()
            consumers = members.setdefault(key, set())
            first = not consumers
            if first:
                await self.layer.group_add(group, self.channel)
            consumers.add(consumer)
            return first

    async def _leave(self, members: dict[int, set], key: int, group: str, consumer, on_last=None) -> None:
        """Remove `consumer` from under `key`; with the last one the process leaves `group` (and
        `on_last(key)` runs, under the same lock)."""
        async with self.membership_lock:
            consumers = members.get(key)
            if consumers is None or consumer not in consumers:
                return
            consumers.discard(consumer)
            if consumers:
                return
            del members[key]
            if on_last is not None:
                on_last(key)
            await self.layer.group_discard(group, self.channel)

    async def unsubscribe_all(self, consumer) -> None:
        """Stop handing anything to `consumer`: its projects' events and its user's notifications."""
        for project_id in [pid for pid, consumers in self.subscribers.items() if consumer in consumers]:
            await self.unsubscribe(project_id, consumer)
        for user_id in [uid for uid, consumers in self.users.items() if consumer in consumers]:
            await self.unfollow_user(user_id, consumer)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A list-based layer (Redis unreachable) raises here; the probes notice it too,
                # and the log covers what is missed meanwhile (_watch_layer).
                if not self.layer_failing:
                    logger.exception("Receiving from the channel layer failed; retrying.")
                await asyncio.sleep(LAYER_PROBE_SECONDS)
                continue
            if message.get("type") == "project.event":
                self._take_event(message)
            elif message.get("type") == "user.notification":
                for consumer in list(self.users.get(message["user"], ())):
                    consumer.notify(message["text"])
            elif message.get("type") == "user.token_revoked":
                for consumer in list(self.users.get(message["user"], ())):
                    consumer.token_revoked(message["token"])
            elif message.get("type") in (PRESENCE_ANNOUNCE, PRESENCE_QUERY):
                try:
                    await self.presence.take(message, self.subscribers)
                except Exception:
                    logger.exception("A presence message could not be handled.")
            elif message.get("type") == "hub.probe":
                echo = self.probes.get(message["number"])
                if echo is not None and not echo.done():
                    echo.set_result(None)

    def _take_event(self, message: dict) -> None:
        """Hand an event to the project's sockets in seq order, once per process.

        Events reach the layer in publish order, which two server processes (or two threads of
        one) can make differ from seq order. An event after a gap waits here, briefly, for the
        missing ones (TASKFLOW_WS_GAP_WAIT_SECONDS); then the gap is filled from the log with one
        query for the whole process, instead of one per socket.
        """
        project_id, seq = message["project"], message["seq"]
        if project_id not in self.subscribers:
            return
        released = self.released.get(project_id)
        if released is not None and seq <= released:
            return  # already handed out (a repeat, or filled from the log)
        held = self.held.setdefault(project_id, {})
        held[seq] = message
        if released is None or seq == released + 1:
            self._release(project_id, start=seq)
        elif project_id not in self.gap_timers:
            self.gap_timers[project_id] = asyncio.create_task(self._fill_gap_later(project_id))

    def _release(self, project_id: int, *, start: int) -> None:
        """Hand the held events from `start` on, as long as their seqs follow one another."""
        held = self.held.get(project_id, {})
        batch = []
        seq = start
        while seq in held:
            batch.append(held.pop(seq))
            seq += 1
        if not batch:
            return
        self.released[project_id] = batch[-1]["seq"]
        if not held and (timer := self.gap_timers.pop(project_id, None)) is not None:
            timer.cancel()
        for consumer in list(self.subscribers.get(project_id, ())):
            consumer.enqueue(project_id, batch, upto=batch[-1]["seq"])

    async def _fill_gap_later(self, project_id: int) -> None:
        await asyncio.sleep(settings.TASKFLOW_WS_GAP_WAIT_SECONDS)
        self.gap_timers.pop(project_id, None)
        held = self.held.get(project_id)
        if not held:
            return
        released, upto = self.released[project_id], max(held)
        try:
            logged = await access.event_messages(
                project_id, after=released, upto=upto, limit=settings.TASKFLOW_WS_REPLAY_BATCH
            )
        except Exception:
            logger.exception("Could not fill a gap of project %s from the log; the sockets will.", project_id)
            logged = []
        for message in logged:
            held.setdefault(message["seq"], message)
        # Whatever is still missing (retention, a huge gap) the sockets fill themselves.
        self._release(project_id, start=min(held))

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(settings.TASKFLOW_WS_CHECK_SECONDS)
            await self._report_sockets()
            if not self.subscribers and not self.users:
                continue
            try:
                await self.check()
            except Exception:
                logger.exception("Event log check failed; retrying in %ss.", settings.TASKFLOW_WS_CHECK_SECONDS)

    async def _report_sockets(self) -> None:
        """Publish how many signed-in sockets this process holds, for `manage.py status`.

        One cache key per process, expiring after a few check intervals, so a process that went
        away stops counting by itself. Only a shared cache (Redis) makes this visible to others.
        """
        sockets = sum(len(consumers) for consumers in self.users.values())
        report = {"sockets": sockets, "projects": len(self.subscribers), "at": time.time()}
        try:
            await cache.aset(socket_census_key(), report, timeout=int(3 * settings.TASKFLOW_WS_CHECK_SECONDS) + 1)
        except Exception:
            logger.exception("Could not report this process's socket count.")

    async def _watch_layer(self) -> None:
        """Probe the channel layer every LAYER_PROBE_SECONDS; while it fails, read the log instead.

        A probe is a message to the hub's own channel, through the layer like any event. While
        probes fail, every probe also catches every socket up from the log, so what the layer drops
        (events published while Redis was down, or before the pub/sub connection subscribed again)
        reaches the sockets within about a probe interval. When a probe comes back, the layer
        carries messages again: the hub re-joins its groups (a restarted Redis forgot list-based
        layers' groups) and catches up once more, for what was published just before.
        """
        while True:
            started = time.monotonic()
            failure = await self._probe()
            try:
                if failure is not None:
                    if not self.layer_failing:
                        logger.warning("The channel layer is losing messages (%s); reading the event log.", failure)
                        self.layer_failing = True
                    await self.catch_up()
                elif self.layer_failing:
                    await self._renew_groups()
                    await self.catch_up()
                    self.layer_failing = False
                    logger.warning("The channel layer carries messages again; every socket was caught up.")
            except Exception:
                logger.exception("Catching the sockets up after a channel-layer failure failed; retrying.")
            await asyncio.sleep(max(0.0, started + LAYER_PROBE_SECONDS - time.monotonic()))

    async def _probe(self) -> str | None:
        """Send a probe through the layer to this hub; None when it came back in time, else why not."""
        number = next(self.probe_numbers)
        echo = self.probes[number] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(LAYER_ECHO_TIMEOUT_SECONDS):
                await self.layer.send(self.channel, {"type": "hub.probe", "number": number})
                await echo
        except TimeoutError:
            return "a probe did not come back in time"
        except Exception as error:
            return f"a probe could not be sent: {error!r}"
        finally:
            self.probes.pop(number, None)
        return None

    async def _renew_groups(self) -> None:
        """Join every group this process needs again (a no-op for groups it is still in)."""
        async with self.membership_lock:
            for project_id in list(self.subscribers):
                await self.layer.group_add(project_group(project_id), self.channel)
            for user_id in list(self.users):
                await self.layer.group_add(user_group(user_id), self.channel)

    async def _close_revoked_tokens(self) -> None:
        """Close the sockets here whose personal access token is gone: revoked while the channel
        layer lost the message that says so (the revocation's own message closes them at once)."""
        sockets = [consumer for consumers in self.users.values() for consumer in consumers]
        token_ids = {consumer.personal_token_id for consumer in sockets if consumer.personal_token_id is not None}
        if not token_ids:
            return
        alive = await access.personal_tokens_alive(token_ids)
        for consumer in sockets:
            if consumer.personal_token_id is not None and consumer.personal_token_id not in alive:
                consumer.token_revoked(consumer.personal_token_id)

    async def catch_up(self) -> None:
        """Bring every socket here up to its projects' latest seqs from the log, now.

        Unlike the periodic check, this does not give the channel layer an interval to deliver
        first: it runs when the layer is known to have lost messages. What the layer still
        delivers afterwards is dropped by seq, here and by each socket.
        """
        project_ids = list(self.subscribers)
        if not project_ids:
            return
        seqs = await access.project_event_seqs(project_ids)
        for project_id in project_ids:
            consumers = list(self.subscribers.get(project_id, ()))
            current = seqs.get(project_id)
            if not consumers or self._revoked_if_gone(project_id, consumers, current):
                continue
            self.seen[project_id] = current
            behind = [c for c in consumers if c.last_seq.get(project_id, current) < current]
            if behind:
                oldest = min(c.last_seq[project_id] for c in behind)
                messages = await access.event_messages(
                    project_id, after=oldest, upto=current, limit=settings.TASKFLOW_WS_REPLAY_BATCH
                )
                logger.info("%d socket(s) behind on project %s; caught up from the log.", len(behind), project_id)
                for consumer in behind:
                    consumer.enqueue(project_id, messages, upto=current)
            if project_id in self.subscribers:
                self._released_through(project_id, current)

    @staticmethod
    def _revoked_if_gone(project_id: int, consumers: list, current: int | None) -> bool:
        """A project with no seq was deleted: its sockets here are told (`revoked`); returns whether."""
        if current is not None:
            return False
        for consumer in consumers:
            consumer.enqueue(project_id, None, upto=0)
        return True

    def _released_through(self, project_id: int, seq: int) -> None:
        """The log brought the project's sockets here up to `seq`: stop holding anything up to it."""
        if self.released.get(project_id, seq) <= seq:
            self.released[project_id] = seq
        held = self.held.get(project_id)
        if not held:
            return
        for stale in [held_seq for held_seq in held if held_seq <= seq]:
            del held[stale]
        if held:
            self._release(project_id, start=self.released[project_id] + 1)
        elif (timer := self.gap_timers.pop(project_id, None)) is not None:
            timer.cancel()

    async def check(self) -> None:
        """Catch up every socket that was already behind at the previous check, from the log.

        A socket gets a whole interval for the channel layer to bring it an event before the log
        is read for it; a deleted project revokes its subscriptions.
        """
        project_ids = list(self.subscribers)
        # Renew the group memberships: list-based layers expire them (group_expiry).
        await self._renew_groups()
        await self._close_revoked_tokens()
        await self.presence.expire(self.subscribers)
        if not project_ids:
            return
        seqs = await access.project_event_seqs(project_ids)
        for project_id in project_ids:
            consumers = list(self.subscribers.get(project_id, ()))
            current = seqs.get(project_id)
            if self._revoked_if_gone(project_id, consumers, current):
                continue
            previous = self.seen.get(project_id, 0)
            self.seen[project_id] = current
            # A socket with work still queued is slow, not missing anything: it is left alone.
            behind = [c for c in consumers if not c.outbox and c.last_seq.get(project_id, previous) < previous]
            if not behind:
                continue
            oldest = min(c.last_seq.get(project_id, previous) for c in behind)
            messages = await access.event_messages(
                project_id, after=oldest, upto=previous, limit=settings.TASKFLOW_WS_REPLAY_BATCH
            )
            logger.info("%d socket(s) behind on project %s; catching up from the log.", len(behind), project_id)
            for consumer in behind:
                consumer.enqueue(project_id, messages, upto=previous)


SOCKET_CENSUS_PREFIX = "sockets:"


def socket_census_key() -> str:
    """Cache key of this server process's socket count (host and pid tell processes apart)."""
    return f"{SOCKET_CENSUS_PREFIX}{socket.gethostname()}:{os.getpid()}"
