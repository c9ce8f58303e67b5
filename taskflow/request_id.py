"""The request id: one per HTTP request or WebSocket connection, on every log line made for it.

A request keeps the `X-Request-ID` its client or proxy sent when it is a sane value, or gets a new
one; either way the response returns it in `X-Request-ID`, so that a client's report and the
server's log lines can be matched. The id lives in a context variable: the HTTP handler runs the
whole middleware chain and the view in one worker thread (taskflow.http.handlers), and a WebSocket
consumer runs in one task per connection, so every log call made on its behalf sees it.
"""

import logging
import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"

# What a client may choose: enough for any tracing scheme, nothing that could forge a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def request_id_new() -> str:
    """A fresh id: 32 hex digits."""
    return uuid.uuid4().hex


def request_id_from_header(value: str | None) -> str:
    """The client's id when it is up to 128 of [A-Za-z0-9._-], otherwise a fresh one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return request_id_new()


class RequestIdMiddleware:
    """Gives each request its id, for the log lines made while handling it and in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_header(request.headers.get(HEADER))
        # Django logs 4xx and 5xx responses (`django.request`) after the middleware chain has
        # returned: RequestIdFilter finds the id on the request then.
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            # Under WSGI the thread serves other requests next: they must not inherit this id.
            current_request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to a record made for a request or a connection; lets every record pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get() or getattr(getattr(record, "request", None), "request_id", None)
        if request_id is not None:
            record.request_id = request_id
        return True
