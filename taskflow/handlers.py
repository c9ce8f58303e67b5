"""An ASGI handler that serves each HTTP request in one worker thread, start to finish.

Django's ASGIHandler runs the middleware chain on the event loop and hops to a thread for every
synchronous middleware method and for the view: some twenty-five switches between the loop and
the single "thread-sensitive" thread per request. On a server process that also pushes events to
thousands of WebSockets, each switch waits behind that work, and all requests queue for one
thread. TaskFlow's middleware and views are synchronous anyway, so here the whole chain runs in
one hop, on a pool of threads, the way a threaded WSGI server runs Django. Database connections
are closed after each request in the thread that used them, as under WSGI.
"""

from channels.db import database_sync_to_async
from django.core.handlers.asgi import ASGIHandler


class ThreadedASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # The synchronous chain, whatever the caller asks: it runs in a worker thread.
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await database_sync_to_async(self.get_response, thread_sensitive=False)(request)


def get_threaded_asgi_application() -> ThreadedASGIHandler:
    """Like django.core.asgi.get_asgi_application(), with the threaded handler."""
    import django

    django.setup(set_prefix=False)
    return ThreadedASGIHandler()
