"""Keep a ProjectMirror in sync with the server, live, for as long as the caller wants.

`follow()` loads the project over REST, subscribes on the WebSocket from the seq the load
reflects, and applies what comes. The server promises every seq exactly once, in order, or an
explicit `reset` (docs/realtime.md, "The guarantee"); what is left to the client is resuming: on
any disconnect (network, server restart, deploy) it reconnects with jittered backoff and
subscribes from the last seq it applied, so nothing is missed or applied twice.
"""

import asyncio
import json
import logging
import random
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from taskflow_client.http import ApiError, Client, Unreachable
from taskflow_client.mirror import ProjectMirror

logger = logging.getLogger("taskflow_client")

# Access tokens live minutes (JWT_ACCESS_MINUTES, 5 by default): the socket's session is renewed
# well before, by another `auth` frame.
RENEW_SECONDS = 120
# Reconnection delays: the first, doubled after each failed attempt up to the last, each one
# stretched by a random part of itself so that clients cut off together do not return together.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30
CLOSE_UNAUTHENTICATED = 4401
# Frames are at most 64 KiB each way (docs/realtime.md).
MAX_FRAME_BYTES = 64 * 1024


async def follow(
    client: Client,
    mirror: ProjectMirror,
    project_id: int,
    *,
    on_event: Callable[[ProjectMirror, dict], None] | None = None,
) -> None:
    """Keep `mirror` in sync with project `project_id` until it is revoked (then
    `mirror.revoked` is True) or the caller cancels; `on_event(mirror, frame)` after each event
    applied. ValueError when the server refuses the mirror's filter."""
    backoff = BACKOFF_FIRST_SECONDS
    loaded = renew = False
    while True:
        try:
            if renew:
                await asyncio.to_thread(client.renew)
                renew = False
            if not loaded:
                await asyncio.to_thread(mirror.load_from, client, project_id)
                loaded = True
            token = await asyncio.to_thread(client.access_token)
            async with connect(client.ws_url, max_size=MAX_FRAME_BYTES) as socket:
                await socket.send(json.dumps({"type": "auth", "token": token}))
                await socket.send(json.dumps(_subscribe_frame(mirror, project_id)))
                renewal = asyncio.create_task(_renew_session(client, socket)) if client.renews else None
                try:
                    async for message in socket:
                        frame = json.loads(message)
                        if frame.get("project") not in (None, project_id):
                            continue
                        kind = frame["type"]
                        if kind == "event":
                            if mirror.apply(frame) and on_event is not None:
                                on_event(mirror, frame)
                        elif kind == "skip":
                            mirror.skip(frame)
                        elif kind == "subscribed":
                            backoff = BACKOFF_FIRST_SECONDS
                        elif kind == "reset":
                            # Too far behind for the log (or ahead of it): reload, then follow on.
                            await asyncio.to_thread(mirror.load_from, client, project_id)
                            await socket.send(json.dumps(_subscribe_frame(mirror, project_id)))
                        elif kind == "revoked" or (kind == "error" and frame.get("code") == "not_found"):
                            mirror.revoked = True
                            return
                        elif kind == "error" and frame.get("code") == "bad_request":
                            raise ValueError(f"The server refused the subscription: {frame.get('detail')}")
                finally:
                    if renewal is not None:
                        renewal.cancel()
            logger.info("The server closed the connection; resuming from seq %s.", mirror.seq)
        except ApiError as error:
            if error.status == 404:  # the project is gone, or the user left it
                mirror.revoked = True
                return
            if error.status < 500 and error.status != 429:
                raise
            logger.info("The server is busy (%s); retrying.", error.status)
        except ConnectionClosed as error:
            code = error.rcvd.code if error.rcvd is not None else None
            logger.info("Disconnected (%s); resuming from seq %s.", code, mirror.seq)
            renew = code == CLOSE_UNAUTHENTICATED  # the session lapsed: a new token first
        except (Unreachable, OSError, WebSocketException) as error:
            logger.info("Cannot reach the server (%s); retrying.", error)
        await asyncio.sleep(backoff * (1 + random.random()))
        backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)


def _subscribe_frame(mirror: ProjectMirror, project_id: int) -> dict:
    frame = {"type": "subscribe", "project": project_id, "since": mirror.seq}
    if mirror.filter is not None:
        frame["filter"] = mirror.filter
    return frame


async def _renew_session(client: Client, socket) -> None:
    """Renew the socket's session every RENEW_SECONDS with a fresh access token."""
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            await asyncio.to_thread(client.renew)
        except (Unreachable, ApiError) as error:
            # The socket then closes when its token expires (4401), and follow() signs in again.
            logger.warning("Could not renew the access token (%s); trying again later.", error)
            continue
        try:
            await socket.send(json.dumps({"type": "auth", "token": client.access_token()}))
        except ConnectionClosed:
            return
