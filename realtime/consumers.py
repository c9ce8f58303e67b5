"""The WebSocket stream at /ws/: authenticate, subscribe to projects, receive their events in order.

Per project a socket delivers every seq exactly once and in increasing order, or says `reset`.
The channel layer is only the fast path: the socket remembers the last seq it delivered per
project, fills any gap from the event log and drops repeats; the process's ProjectHub feeds it
events and makes it catch up when the channel layer lost one (a Redis restart, say). A socket too
slow to take its events is closed, so that its client resumes, rather than left behind.
"""

import asyncio
import json
import logging
import time
from collections import deque
from functools import partial

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from realtime import access
from realtime.hub import ProjectHub
from realtime.presence import presence_frame
from realtime.subscriptions import SubscriptionFilter, subscription_filter
from taskflow.request_id import current_request_id, request_id_new

logger = logging.getLogger(__name__)

# Close codes of the protocol (docs/realtime.md).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects and resumes from its last seq

# How long seqs filtered out of a subscription's view wait to be told together in one `skip` frame
# (an event of the view sends them at once, before it).
SKIP_HOLD_SECONDS = 0.25

# Sockets open per user in this process.
_open_sockets_per_user: dict[int, int] = {}


class ProjectEventsConsumer(AsyncJsonWebsocketConsumer):
    """One client connection: JWT in the first frame, then subscriptions to projects."""

    # Sockets do not listen on the channel layer themselves: their process's hub does, once.
    channel_layer_alias = None

    async def connect(self) -> None:
        # The connection's own task runs every handler below: their log lines carry this id.
        current_request_id.set(request_id_new())
        self.user = None
        self.token_expires_at: float | None = 0.0  # None: a token that never expires
        self.personal_token_id: int | None = None  # when signed in with a personal access token
        self.last_seq: dict[int, int] = {}  # project id -> last seq delivered to this client
        self.filters: dict[int, SubscriptionFilter] = {}  # project id -> its subscription's filter
        self.skipped: dict[int, tuple[int, int]] = {}  # project id -> seqs filtered out, not yet told
        # name -> the timer's handle, or once it fired, the task running its callback
        self.timers: dict[str, asyncio.TimerHandle | asyncio.Task] = {}
        self.frame_allowance = float(settings.TASKFLOW_WS_FRAME_RATE)
        self.allowance_checked_at = time.monotonic()
        self.closed = False
        self.last_heard = time.monotonic()  # when the client last sent a frame (presence expires)
        self.hub = ProjectHub.current()
        # Everything about subscriptions happens in one task, in the order it was asked for:
        # subscribing (replay included), events, unsubscribing. So no lock is needed, and an event
        # queued behind a replay is simply dropped if the replay already sent it. That task runs
        # only while jobs wait: an idle socket holds no task and no asyncio.Queue (with its timers
        # as loop handles, that took an idle socket from 35 to 30 KiB: bench/README.md).
        self.outbox: deque = deque()
        self.sender: asyncio.Task | None = None  # the outbox task, while it runs
        self.running_job = False  # the outbox task is running a job
        self.delivering: asyncio.Task | None = None  # the latest delivery made outside the outbox
        await self.accept()
        self._set_timer("auth", settings.TASKFLOW_WS_AUTH_TIMEOUT, self._close_unless_authenticated)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.sender is not None:
            self.sender.cancel()
        if self.delivering is not None:
            self.delivering.cancel()
        for timer in self.timers.values():
            timer.cancel()
        await self.hub.unsubscribe_all(self)
        if self.user is not None:
            _open_sockets_per_user[self.user.pk] -= 1
            if not _open_sockets_per_user[self.user.pk]:
                del _open_sockets_per_user[self.user.pk]

    # --- Frames from the client -----------------------------------------------------------------

    async def websocket_receive(self, message: dict) -> None:
        text = message.get("text")
        size = len(text.encode()) if text is not None else len(message.get("bytes") or b"")
        if size > settings.TASKFLOW_WS_MAX_FRAME_BYTES:
            await self._close(CLOSE_MESSAGE_TOO_BIG)
            return
        if not self._within_frame_rate():
            await self._close(CLOSE_TOO_MANY)
            return
        self.last_heard = time.monotonic()
        try:
            content = json.loads(text) if text is not None else None
        except (ValueError, RecursionError):
            content = None
        if self.user is None:
            await self._authenticate_first(content)
        elif not isinstance(content, dict):
            await self._bad_request("Frames are JSON objects with a `type`.")
        else:
            await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        handlers = {
            "auth": self._renew,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
            "presence": self._presence,
        }
        frame_type = content.get("type")
        handler = handlers.get(frame_type) if isinstance(frame_type, str) else None
        if handler is None:
            await self._bad_request("Unknown frame type.")
        else:
            await handler(content)

    async def _authenticate_first(self, content) -> None:
        if not isinstance(content, dict) or content.get("type") != "auth":
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        identity = await access.identity_for_token(content.get("token"))
        if identity is None:
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        user, expires_at, personal_token_id = identity
        if _open_sockets_per_user.get(user.pk, 0) >= settings.TASKFLOW_WS_MAX_SOCKETS_PER_USER:
            await self._close(CLOSE_TOO_MANY)
            return
        _open_sockets_per_user[user.pk] = _open_sockets_per_user.get(user.pk, 0) + 1
        self.user = user
        self.timers.pop("auth").cancel()
        await self.hub.follow_user(user.pk, self)
        await self._accept_token(expires_at, personal_token_id)

    async def _renew(self, content: dict) -> None:
        identity = await access.identity_for_token(content.get("token"))
        if identity is None or identity[0].pk != self.user.pk:
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        await self._accept_token(identity[1], identity[2])

    async def _accept_token(self, expires_at: float | None, personal_token_id: int | None) -> None:
        self.token_expires_at = expires_at
        self.personal_token_id = personal_token_id
        if expires_at is None:
            if "expiry" in self.timers:
                self.timers.pop("expiry").cancel()
        else:
            self._set_timer("expiry", max(0.0, expires_at - time.time()), self._close_at_expiry)
        await self.send_json({"type": "auth.ok", "user": {"id": self.user.pk, "username": self.user.username}})

    async def _subscribe(self, content: dict) -> None:
        project_id, since = content.get("project"), content.get("since")
        if not _is_id(project_id) or not (since is None or _is_seq(since)):
            await self._bad_request("`project` is a project id and `since`, when given, a seq (integer >= 0).")
            return
        view = None
        if content.get("filter") is not None:
            try:
                view = subscription_filter(content["filter"], user_id=self.user.pk)
            except ValueError as error:
                await self._bad_request(str(error))
                return
        self._queue(partial(self._start_subscription, project_id, since, view))

    async def _unsubscribe(self, content: dict) -> None:
        project_id = content.get("project")
        if not _is_id(project_id):
            await self._bad_request("`project` is a project id.")
            return
        self._queue(partial(self._end_subscription, project_id))

    async def _ping(self, content: dict) -> None:
        await self.send_json({"type": "pong"})

    async def _presence(self, content: dict) -> None:
        project_id, task_id = content.get("project"), content.get("task")
        if not _is_id(project_id) or not (task_id is None or _is_id(task_id)):
            await self._bad_request("`project` is a project id and `task` a task id or null.")
            return
        # After the subscription work queued before it: a presence right after a subscribe counts.
        self._queue(partial(self._look, project_id, task_id))

    async def _look(self, project_id: int, task_id: int | None) -> None:
        if project_id not in self.last_seq:
            await self._bad_request("Subscribe to the project before telling who looks at it.")
            return
        if task_id is not None and not await access.task_in_project(task_id=task_id, project_id=project_id):
            await self._bad_request("`task` is a task of the project, or null.")
            return
        await self.hub.presence.look(self, project_id, task_id)

    def presence(self, text: str) -> None:
        """Called by the hub: a project's `presence` frame (already encoded) for this socket."""
        self._queue(partial(self._send_text, text))

    # --- Events from the hub ----------------------------------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its per-message `close_old_connections()` in a thread.

        That hop costs a thread round trip per frame, and this consumer needs none of it: all its
        database access goes through database_sync_to_async (realtime.access), which closes stale
        connections in the thread that uses them.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def enqueue(self, project_id: int, messages: list[dict] | None, *, upto: int) -> None:
        """Called by the hub: events of `project_id` up to seq `upto` (None: the project is gone)."""
        if messages is None:
            self._queue(partial(self._project_gone, project_id))
        elif self._idle():
            # Nothing is waiting or running for this socket: deliver now, in this call, as an eager
            # task. It sends at once unless the socket is slow, and only then becomes a task that
            # the outbox waits for. With a thousand sockets per event this spares a queue and a
            # task switch per socket, most of what a frame cost beyond writing it.
            self.delivering = asyncio.eager_task_factory(
                asyncio.get_running_loop(), self._deliver_guarded(project_id, messages, upto)
            )
        else:
            self._queue(partial(self._deliver, project_id, messages, upto))

    def _idle(self) -> bool:
        return (
            not self.closed
            and not self.running_job
            and not self.outbox
            and (self.delivering is None or self.delivering.done())
        )

    async def _deliver_guarded(self, project_id: int, messages: list[dict], upto: int) -> None:
        try:
            await self._deliver(project_id, messages, upto)
        except Exception:
            logger.exception("A socket's delivery failed; closing the socket.")
            await self._close(CLOSE_TOO_SLOW)

    def token_revoked(self, token_id: int | None) -> None:
        """Called by the hub: personal access token `token_id` of this user was revoked, or with
        None, the user's password changed (which ends the sockets signed in with a JWT)."""
        if self.personal_token_id == token_id:
            self._set_timer("revoked", 0, partial(self._close, CLOSE_UNAUTHENTICATED))

    def notify(self, text: str) -> None:
        """Called by the hub: a personal notification frame (already encoded) for this user."""
        self._queue(partial(self._send_text, text))

    async def _send_text(self, text: str) -> None:
        await self.base_send({"type": "websocket.send", "text": text})

    def _queue(self, job) -> None:
        """Queue work for the outbox task. A socket whose outbox overflows cannot keep up: it is
        closed so that its client resumes from its last seq, instead of silently falling behind
        or holding events without bound."""
        if self.closed:
            return
        if len(self.outbox) >= settings.TASKFLOW_WS_OUTBOX_LIMIT:
            logger.warning(
                "Closing a socket of user %s: %d jobs waiting.", getattr(self.user, "pk", None), len(self.outbox)
            )
            self.closed = True
            self._set_timer("too_slow", 0, lambda: self.close(code=CLOSE_TOO_SLOW))
            return
        self.outbox.append(job)
        # A task that has ended counts as none: under an eager task factory one whose jobs never
        # waited has already run to its end (and cleared `sender`) inside create_task.
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._run_outbox())

    async def _run_outbox(self) -> None:
        """Run the queued jobs one by one, in order, until none is left; `_queue` starts this task
        again for the next job. Between the last look at the outbox and the end of the task
        nothing else runs (no await), so no job is ever left behind without a task."""
        try:
            while self.outbox:
                job = self.outbox.popleft()
                self.running_job = True
                try:
                    if self.delivering is not None:
                        # An eager delivery that had to wait goes first: jobs run in the order asked.
                        await asyncio.shield(self.delivering)
                    await job()
                except Exception:
                    logger.exception("A socket's outbox failed (%s); closing the socket.", job.func.__name__)
                    await self._close(CLOSE_TOO_SLOW)
                    return
                finally:
                    self.running_job = False
        finally:
            self.sender = None

    async def _start_subscription(self, project_id: int, since: int | None, view: SubscriptionFilter | None) -> None:
        if project_id in self.last_seq:
            await self._leave(project_id)
        # Join the live stream, then read the latest seq, then check membership: nothing committed
        # in between is missed (what arrives twice is dropped by seq), and a removal committed
        # after the check comes as an event, which revokes.
        await self.hub.subscribe(project_id, self)
        current = await access.project_event_seq(project_id)
        if current is None or not await access.is_member(user_id=self.user.pk, project_id=project_id):
            await self.hub.unsubscribe(project_id, self)
            await self.send_json({"type": "error", "code": "not_found", "project": project_id})
            return
        if since is not None and since > current:
            await self._reset(project_id)
            return
        self.last_seq[project_id] = current if since is None else since
        if view is not None:
            self.filters[project_id] = view
        if await self._send_from_log(project_id, upto=current):
            if project_id in self.skipped:
                await self._send_skipped(project_id)
            await self.send_json({"type": "subscribed", "project": project_id, "seq": current})
            if viewers := self.hub.presence.viewers(project_id):
                await self._send_text(presence_frame(project_id, viewers))

    async def _end_subscription(self, project_id: int) -> None:
        await self._leave(project_id)
        await self.send_json({"type": "unsubscribed", "project": project_id})

    async def _deliver(self, project_id: int, messages: list[dict], upto: int) -> None:
        """Bring the client up to seq `upto` of the project, from `messages` (in order) and the log.

        Events already delivered are dropped; a gap before `upto` is filled from the event log.
        """
        for message in messages:
            last = self.last_seq.get(project_id)
            if last is None or message["seq"] > last + 1:
                break
            if message["seq"] == last + 1:
                await self._send_event(message)
        if self.last_seq.get(project_id, upto) < upto:
            await self._send_from_log(project_id, upto=upto)
        if project_id in self.skipped and f"skip:{project_id}" not in self.timers:
            # More may follow: they are told together, after a moment, unless an event comes first.
            self._set_timer(f"skip:{project_id}", SKIP_HOLD_SECONDS, partial(self._skipped_due, project_id))

    async def _project_gone(self, project_id: int) -> None:
        """The project was deleted: nothing more will come for it."""
        if project_id in self.last_seq:
            await self._revoke(project_id)

    async def _send_from_log(self, project_id: int, *, upto: int) -> bool:
        """Send the logged events after the last delivered one through `upto`, in order.

        Returns False when the subscription ended meanwhile, or when retention removed events the
        client has not seen: it is then told to `reset`.
        """
        while project_id in self.last_seq and self.last_seq[project_id] < upto:
            last = self.last_seq[project_id]
            messages = await access.event_messages(
                project_id, after=last, upto=upto, limit=settings.TASKFLOW_WS_REPLAY_BATCH
            )
            if not messages or messages[0]["seq"] != last + 1:
                await self._reset(project_id)
                return False
            for message in messages:
                await self._send_event(message)
                if project_id not in self.last_seq:
                    return False
        return project_id in self.last_seq

    async def _send_event(self, message: dict) -> None:
        """Send one event in order; a member.removed of this user revokes the subscription instead."""
        project_id = message["project"]
        if (
            message["event"] == "member.removed"
            and message["member"] == self.user.pk
            # A replay may pass an old removal of a member who was added back since.
            and not await access.is_member(user_id=self.user.pk, project_id=project_id)
        ):
            await self._revoke(project_id)
            return
        seq = message["seq"]
        view = self.filters.get(project_id)
        if view is not None and not view.wants(message.get("states")):
            # Not in this subscription's view: told with its neighbours in one `skip` frame.
            self.skipped[project_id] = (self.skipped.get(project_id, (seq,))[0], seq)
            self.last_seq[project_id] = seq
            return
        if project_id in self.skipped:
            await self._send_skipped(project_id)
        self.last_seq[project_id] = seq
        # The frame was encoded once for every socket (realtime.events.event_message).
        await self.base_send({"type": "websocket.send", "text": message["text"]})

    async def _send_skipped(self, project_id: int) -> None:
        """Tell the client the seqs filtered out since the last frame of the project, in one frame."""
        timer = self.timers.pop(f"skip:{project_id}", None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        first, last = self.skipped.pop(project_id)
        await self.send_json({"type": "skip", "project": project_id, "from": first, "to": last})

    async def _skipped_due(self, project_id: int) -> None:
        """The hold of filtered-out seqs is over: tell them, in the outbox's order."""
        self.timers.pop(f"skip:{project_id}", None)
        self._queue(partial(self._send_skipped_if_any, project_id))

    async def _send_skipped_if_any(self, project_id: int) -> None:
        if project_id in self.skipped:
            await self._send_skipped(project_id)

    async def _revoke(self, project_id: int) -> None:
        await self._leave(project_id)
        await self.send_json({"type": "revoked", "project": project_id})

    async def _reset(self, project_id: int) -> None:
        await self._leave(project_id)
        await self.send_json({"type": "reset", "project": project_id})

    async def _leave(self, project_id: int) -> None:
        self.last_seq.pop(project_id, None)
        self.filters.pop(project_id, None)
        self.skipped.pop(project_id, None)
        timer = self.timers.pop(f"skip:{project_id}", None)
        if timer is not None:
            timer.cancel()
        await self.hub.unsubscribe(project_id, self)

    # --- Limits and timers -----------------------------------------------------------------------

    def _within_frame_rate(self) -> bool:
        """Token bucket: TASKFLOW_WS_FRAME_RATE frames a second, bursts up to twice that."""
        now = time.monotonic()
        rate = settings.TASKFLOW_WS_FRAME_RATE
        self.frame_allowance = min(2 * rate, self.frame_allowance + (now - self.allowance_checked_at) * rate)
        self.allowance_checked_at = now
        if self.frame_allowance < 1:
            return False
        self.frame_allowance -= 1
        return True

    def _set_timer(self, name: str, delay: float, callback) -> None:
        """Run `callback()` (a coroutine) in `delay` seconds, unless the timer is cancelled or set
        again first. A timer is the loop's handle until it fires (a task sleeping for every idle
        socket would cost it kilobytes), then the task running the callback."""
        if name in self.timers:
            self.timers[name].cancel()
        self.timers[name] = asyncio.get_running_loop().call_later(delay, self._fire, name, callback)

    def _fire(self, name: str, callback) -> None:
        self.timers[name] = asyncio.create_task(callback())

    async def _close_unless_authenticated(self) -> None:
        if self.user is None:
            await self._close(CLOSE_AUTH_TIMEOUT)

    async def _close_at_expiry(self) -> None:
        if self.token_expires_at is None:  # renewed meanwhile with a token that never expires
            return
        remaining = self.token_expires_at - time.time()
        if remaining > 0:  # woken early, or renewed meanwhile
            self._set_timer("expiry", remaining, self._close_at_expiry)
        else:
            await self._close(CLOSE_UNAUTHENTICATED)

    async def _close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def _bad_request(self, detail: str) -> None:
        await self.send_json({"type": "error", "code": "bad_request", "detail": detail})


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _is_seq(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
