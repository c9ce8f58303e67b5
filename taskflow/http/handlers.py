"""An ASGI handler that serves each HTTP request in one worker thread, start to finish.

Django's ASGIHandler runs a request through many switches between the event loop and threads:
the `request_started` and `request_finished` signals are sent with `asend`, whose synchronous
receivers each hop to a thread; every request opens a ThreadSensitiveContext, which starts (and
joins) a thread of its own for those hops; the middleware chain, the view and `response.close()`
hop again. Profiled under load, that machinery cost several times the view itself, and on a
process that also pushes events to thousands of WebSockets each switch waits behind that work.

TaskFlow's middleware and views are synchronous, so here everything Django does for a request
runs in one hop, on a bounded pool of threads, the way a threaded WSGI server runs Django: the
`request_started` signal (which closes stale database connections of that thread), the request,
the middleware and view, and `response.close()` (which sends `request_finished`). The event loop
only reads the body and sends the response. Each pool thread keeps its own database connection
for CONN_MAX_AGE, so the pool's size bounds the connections of a process.

The body is read here, in the loop, before Django sees the request, so its size limit
(TASKFLOW_MAX_BODY_BYTES) is enforced here too: Django's own checks (DATA_UPLOAD_MAX_MEMORY_SIZE,
the JSON parser's bound) run only once the whole body has been read, and Django's ASGIHandler
reads any body in full, to disk if need be. A Content-Length over the limit is answered 413
before any of the body is read, and a body without one (chunked) is answered 413 as soon as it
grows past the limit; the rest is never read and the connection is closed. A chunked body within
the limit is given to Django with the Content-Length it turned out to have: Django's request and
DRF take a missing Content-Length for an empty body. (Daphne hands over a body only once Twisted
has received all of it; taskflow.http.daphne_body_limit holds the limit there.)
"""

import asyncio
import contextvars
import functools
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, JsonResponse
from django.urls import set_script_prefix

from taskflow.http.limits import body_limit
from taskflow.http.parsers import PayloadTooLarge

# Where Django logs the 4xx responses it makes: this one never reaches Django.
request_logger = logging.getLogger("django.request")


class BodyTooLarge(Exception):
    """The request's body is, or says it is, larger than TASKFLOW_MAX_BODY_BYTES."""


class ThreadedASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.executor = ThreadPoolExecutor(max_workers=settings.TASKFLOW_HTTP_THREADS, thread_name_prefix="http")

    def load_middleware(self, is_async: bool = False) -> None:
        # The synchronous chain, whatever the caller asks: it runs in a worker thread.
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file, scope = await self.read_bounded_body(scope, receive)
        except RequestAborted:
            return
        except BodyTooLarge:
            await self.send_response(self.body_too_large(scope), send)
            return
        # The thread sees this context (the request id, the script prefix) as the loop does.
        serve = functools.partial(contextvars.copy_context().run, self._serve, scope, body_file)
        response = await asyncio.get_running_loop().run_in_executor(self.executor, serve)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:
                # Streamed (static files): its resources are released once it has been sent.
                await asyncio.get_running_loop().run_in_executor(self.executor, response.close)

    async def read_bounded_body(self, scope, receive):
        """The body as a file, and the scope to build the request from; raises BodyTooLarge.

        Like ASGIHandler.read_body, but stops at the path's limit (taskflow.http.limits): at once
        when Content-Length says more, or as soon as the bytes received pass it. A body that came
        without a Content-Length gets one in the scope, its real size.
        """
        limit = body_limit(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise BodyTooLarge()
        # Returned open: the request reads it, and _serve closes it.
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge()
                # At most the limit: in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then a local file.
                body_file.write(chunk)
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()
            raise
        body_file.seek(0)
        if declared is None and size:
            scope = {**scope, "headers": [*scope.get("headers", []), (b"content-length", str(size).encode())]}
        return body_file, scope

    def body_too_large(self, scope) -> JsonResponse:
        """The 413 for a body over the limit, in DRF's shape; the connection closes after it,
        since the rest of the body was not read."""
        request_logger.warning(
            "Payload Too Large: %s (body over %d bytes)",
            scope.get("path", ""),
            body_limit(scope.get("path", "")),
            extra={"status_code": 413},
        )
        response = JsonResponse({"detail": str(PayloadTooLarge.default_detail)}, status=413)
        # No middleware runs for it (CommonMiddleware sets the length of Django's responses).
        response["Content-Length"] = str(len(response.content))
        response["Connection"] = "close"
        return response

    def _serve(self, scope, body_file):
        """Everything synchronous about one request, in one worker thread; returns the response."""
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
                response._handler_class = self.__class__
                if isinstance(response, FileResponse):
                    # The server chunks the body itself: fewer, larger reads.
                    response.block_size = self.chunk_size
            if not response.streaming:
                # The body is already in memory: release the request's resources here, in the
                # thread that used them (request_finished closes this thread's connections).
                response.close()
            return response


def _content_length(scope) -> int | None:
    """The request's Content-Length, if it has a valid one (the server refuses invalid ones)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def get_threaded_asgi_application() -> ThreadedASGIHandler:
    """Like django.core.asgi.get_asgi_application(), with the threaded handler."""
    import django

    django.setup(set_prefix=False)
    return ThreadedASGIHandler()
