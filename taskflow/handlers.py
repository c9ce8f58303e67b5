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
"""

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix


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
            body_file = await self.read_body(receive)
        except RequestAborted:
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


def get_threaded_asgi_application() -> ThreadedASGIHandler:
    """Like django.core.asgi.get_asgi_application(), with the threaded handler."""
    import django

    django.setup(set_prefix=False)
    return ThreadedASGIHandler()
