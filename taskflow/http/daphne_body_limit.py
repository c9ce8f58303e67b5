"""Daphne's HTTP requests held to their body limit (taskflow.http.limits) while their bodies arrive.

Under uvicorn the ASGI handler (taskflow.http.handlers) reads the body and stops at the limit. Daphne
gives the application nothing before Twisted has received the whole body (into a temporary file
when it is large), so there the limit has to hold inside Twisted: `BoundedWebRequest` answers 413
and closes the connection as soon as the head declares a longer body (`gotLength`) or the bytes
received pass the limit (`handleContentChunk`), and stores nothing more.

Both methods are internals of Twisted's `twisted.web.http.Request` ("not intended for users"),
called by its HTTP channel once the head is parsed and for each piece of the body; Daphne's
`WebRequest` leaves them as they are. The request's own path is set only once the whole body is
in, so the limit of the path is read from the channel's `_path`, the request line's target,
another internal of `twisted.web.http.HTTPChannel`. And the request is made with
`parsePOSTFormSubmission=False` (a parameter of Twisted's `Request`): otherwise Twisted parses a
multipart body itself, reading an upload whole into memory, and answers a body it cannot parse
with a bare 400 before Django sees it. `taskflow/tests/test_body_limits.py` shows the limit on a
real Daphne server. Only a process about to serve with Daphne imports this module.
"""

import json
import logging

from daphne.http_protocol import WebRequest
from django.conf import settings

from taskflow.http.limits import body_limit
from taskflow.http.parsers import PayloadTooLarge

# Where Django logs the 4xx responses it makes: this one never reaches Django.
request_logger = logging.getLogger("django.request")


def too_large_response() -> bytes:
    """A whole HTTP/1.1 413 response in DRF's shape, closing the connection."""
    body = json.dumps({"detail": str(PayloadTooLarge.default_detail)}).encode()
    head = (
        "HTTP/1.1 413 Request Entity Too Large\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedWebRequest(WebRequest):
    """Daphne's request, refusing a body over its path's limit before it is all read."""

    refused = False
    received = 0
    limit = None

    def __init__(self, *args, **kwargs):
        # Django parses bodies (a file at a time, to disk); Twisted must not first.
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)

    def gotLength(self, length):
        target = getattr(self.channel, "_path", b"") or b""
        self.limit = body_limit(target.split(b"?", 1)[0].decode("latin-1"))
        if length is not None and length > self.limit:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        if self.received > (self.limit or settings.TASKFLOW_MAX_BODY_BYTES):
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        # Written straight to the connection, which then closes: the request was never handed
        # to the application, and the rest of its body is never read.
        self.refused = True
        request_logger.warning(
            "Payload Too Large (body over %d bytes)",
            self.limit or settings.TASKFLOW_MAX_BODY_BYTES,
            extra={"status_code": 413},
        )
        self.channel.transport.write(too_large_response())
        self.channel.transport.loseConnection()


def body_limit_install(http_factory) -> None:
    """Make Daphne's HTTP factory (`Server.http_factory`, once it exists) build its requests as
    BoundedWebRequest: Daphne's `HTTPFactory.buildProtocol` sets `requestFactory` to its own
    WebRequest on every connection, so the connection is given this one right after."""
    build = http_factory.buildProtocol

    def build_protocol(addr):
        protocol = build(addr)
        protocol.requestFactory = BoundedWebRequest
        return protocol

    http_factory.buildProtocol = build_protocol
