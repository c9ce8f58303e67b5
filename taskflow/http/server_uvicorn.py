"""uvicorn as TaskFlow serves with it: its HTTP protocol with a deadline for request heads.

uvicorn's keep-alive timeout (`timeout_keep_alive`) starts only once a response is complete, and
any byte received cancels it. A connection that sends part of a request head and then nothing,
as a new connection or after a response, was therefore held open for as long as the client liked:
a few hundred such connections hold a process's sockets and memory. This subclass of uvicorn's
httptools protocol closes a connection whose request head is not complete
TASKFLOW_HTTP_HEADER_SECONDS after it opened or after its previous response.

It overrides four of the protocol's methods, which are uvicorn internals (not a documented
interface); taskflow/tests/test_server_internals.py fails when they change, and
taskflow/tests/test_server_process.py shows the deadline working on a real server.
"""

import asyncio

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TaskFlowHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request head does not arrive in time."""

    header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_header_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request waiting here already has its head; only an idle connection waits
        # for the next one.
        waiting_for_a_head = not self.pipeline
        super().on_response_complete()
        if waiting_for_a_head and not self.transport.is_closing():
            self._start_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _start_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self.header_timer = self.loop.call_later(settings.TASKFLOW_HTTP_HEADER_SECONDS, self._header_deadline_passed)

    def _cancel_header_deadline(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_deadline_passed(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
