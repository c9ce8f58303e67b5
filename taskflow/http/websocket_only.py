"""The other protocol, in a process of the production topology that serves one: a WebSocket-only
process answers HTTP with its health checks and a JSON 404 for the rest; an HTTP-only process
refuses WebSocket handshakes (403).

In the production topology nginx sends a WebSocket-only process nothing but `/ws/`; what else
reaches it (a probe, a misrouted request) must not cost it the work of Django's middleware stack,
while the loop is pushing events to thousands of sockets. `/healthz` and `/readyz` still go
through Django, so a process is checked the same way whatever it serves. An HTTP-only process
keeps no sockets and no hub (realtime.hub starts with the first socket), so a handshake that
reaches it by mistake is refused before it is accepted, and the client tries again elsewhere.
"""

import json

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

NOT_FOUND = json.dumps({"detail": "Not found."}).encode()


class HealthOnlyHTTP:
    """An ASGI HTTP application: the health paths through `django`, a JSON 404 for every other path."""

    def __init__(self, django) -> None:
        self.django = django

    async def __call__(self, scope, receive, send) -> None:
        if scope["path"] in HEALTH_PATHS:
            await self.django(scope, receive, send)
            return
        # The body, if any, is never read: the connection closes after the answer.
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(NOT_FOUND)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": NOT_FOUND})


async def refuse_websocket(scope, receive, send) -> None:
    """An ASGI WebSocket application that refuses every handshake: closing before accepting is a 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
