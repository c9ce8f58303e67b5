"""Daphne as TaskFlow serves with it: the protocol's close codes, oversized frames refused by the
protocol layer, idle HTTP connections closed, request bodies kept out of memory, and a graceful
stop on SIGTERM.

Daphne's command line and its `Server` offer none of these, so this module leans on internals of
Daphne, autobahn (its WebSocket protocol) and Twisted (its HTTP channel). Each piece says which
one and why; taskflow/tests/test_server_internals.py fails when one of them changes, and the
WebSocket and shutdown tests under Daphne show what a client would notice.

Importing this module installs Daphne's asyncio reactor (daphne.server does that on import), so
only a process about to serve with Daphne imports it.
"""

import asyncio
import logging
import signal
import tempfile
import time
from functools import partial

import daphne.server  # noqa: F401  (installs Twisted's asyncio reactor: before anything imports a reactor)
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor

from taskflow.http.daphne_body_limit import body_limit_install

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
# How often a stopping server looks whether its last requests and sockets are done.
STOP_POLL_SECONDS = 0.05


class TaskFlowWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol, closing with any code RFC 6455 lets an endpoint send.

    Daphne closes through autobahn's `sendClose`, which refuses every code but 1000 and 3000-4999
    (the ones autobahn thinks an application may choose) by raising. The application then died
    and the client got 1011 a second later, where TaskFlow's protocol says 1009 (frame too big),
    1012 (server restarting) or 1013 (too slow: reconnect and resume). Those codes are in the
    RFC's and IANA's registry for a server to send; autobahn sends them itself through
    `sendCloseFrame` (its close for protocol errors, 1009 included), which this uses for them.
    """

    def serverClose(self, code=None):
        if code is not None and code in self.CLOSE_STATUS_CODES_ALLOWED:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code=code)


class SpooledBodyQueue(asyncio.Queue):
    """An HTTP request's input queue whose body chunks wait in a temporary file, not in memory.

    Daphne hands a request over once Twisted has the whole body (in a temporary file when it is
    large), then puts every chunk of it into the application's queue at once, before the
    application has read any: an upload of 25 MiB sat in the queue whole. Here each chunk is
    written to a spool as it is put (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then on disk)
    and read back when the application takes it, so a body never has to fit in memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self._spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        self._written = self._read = 0

    def put_nowait(self, message: dict) -> None:
        body = message.get("body")
        if message.get("type") == "http.request" and body:
            self._spool.seek(self._written)
            self._spool.write(body)
            self._written += len(body)
            message = {**message, "body": len(body)}  # its length stands in for it
        super().put_nowait(message)

    async def get(self) -> dict:
        message = await super().get()
        if message.get("type") == "http.request" and isinstance(message.get("body"), int):
            self._spool.seek(self._read)
            body = self._spool.read(message["body"])
            self._read += len(body)
            message = {**message, "body": body}
            if not message.get("more_body"):
                self._spool.close()
        return message


class TaskFlowDaphneServer(Server):
    """Daphne's server with TaskFlow's WebSocket protocol, timeouts and graceful stop.

    `run()` builds the factories of its connections and starts the reactor in one call, so they
    are configured from `reactor.callWhenRunning`: it runs inside `reactor.run()`, after they
    exist and before the first connection is accepted.
    """

    def __init__(self, *args, **kwargs) -> None:
        # Twisted's own SIGTERM and SIGINT handlers stop the reactor at once, dropping every
        # request and socket; this server installs handlers that stop it gracefully instead.
        kwargs["signal_handlers"] = False
        super().__init__(*args, **kwargs)
        self.ports: list = []
        self.stopping = False

    def run(self) -> None:
        reactor.callWhenRunning(self._configure)
        super().run()

    def create_application(self, protocol, scope):
        """Make the application of one connection, as Daphne's own `Server.create_application`
        does (an internal: the HTTP and WebSocket protocols call it once each), with a
        SpooledBodyQueue as the input queue of an HTTP request."""
        if scope["type"] != "http":
            return super().create_application(protocol, scope)
        assert "application_instance" not in self.connections[protocol]
        queue = SpooledBodyQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=queue.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return queue

    def listen_success(self, port) -> None:
        # Kept to stop listening on a graceful stop (Daphne keeps only their addresses).
        self.ports.append(port)
        super().listen_success(port)

    def _configure(self) -> None:
        # Sockets close with TaskFlow's codes (the protocol above).
        self.ws_factory.protocol = TaskFlowWebSocketProtocol
        # A message over the limit (--websocket-max-message-size) is refused with a 1009 close
        # frame as soon as its frame header announces it (what follows is discarded, not kept);
        # autobahn's default for servers drops the TCP connection instead, and the client could
        # not tell why.
        self.ws_factory.setProtocolOptions(failByDrop=False)
        # Twisted closes an HTTP connection that has been silent this long, reset by every byte:
        # a request head that never completes, and a kept-alive connection between requests (its
        # default is a minute). A request being answered is not timed out.
        self.http_factory.timeOut = min(settings.TASKFLOW_HTTP_HEADER_SECONDS, settings.TASKFLOW_HTTP_KEEPALIVE_SECONDS)
        # Twisted reads a whole request body before Daphne hands the request over: the body limit
        # must hold there, while the body arrives (taskflow.http.daphne_body_limit).
        body_limit_install(self.http_factory)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop_signal)

    def _on_stop_signal(self, signum, frame) -> None:
        # As uvicorn does: a second Ctrl-C (SIGINT) stops at once, any other signal while stopping
        # changes nothing (taskflow.serve passes SIGTERM on after the terminal's SIGINT).
        if not self.stopping:
            self.stopping = True
            # Twisted's own signal handlers do the same: hand the work to the reactor's thread.
            reactor.callFromThread(self.stop_gracefully)
        elif signum == signal.SIGINT:
            reactor.callFromThread(self.stop)

    def stop_gracefully(self) -> None:
        """Stop accepting connections, close every WebSocket with 1012 (service restart: clients
        reconnect elsewhere and resume by seq), let requests in flight finish, then stop; at most
        TASKFLOW_SHUTDOWN_SECONDS."""
        self.stopping = True
        logger.info("Stopping: refusing new connections, closing WebSockets with 1012.")
        for port in self.ports:
            port.stopListening()
        for protocol in list(self.connections):
            if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
                protocol.serverClose(code=CLOSE_SERVICE_RESTART)
        self._stop_when_done(time.monotonic() + settings.TASKFLOW_SHUTDOWN_SECONDS)

    def _stop_when_done(self, deadline: float) -> None:
        # Daphne marks a connection "disconnected" once its response is finished or its socket is
        # closed (the client answered the close, or autobahn gave up waiting after a second).
        busy = [protocol for protocol, details in self.connections.items() if "disconnected" not in details]
        if busy and time.monotonic() < deadline:
            reactor.callLater(STOP_POLL_SECONDS, self._stop_when_done, deadline)
            return
        if busy:
            logger.warning("Stopping with %d request(s) or socket(s) still open.", len(busy))
        self.stop()


class TaskFlowDaphne(CommandLineInterface):
    """Daphne's command line, serving with TaskFlowDaphneServer."""

    server_class = TaskFlowDaphneServer


def daphne_run(argv: list[str]) -> None:
    """Serve with Daphne's command-line arguments `argv` until stopped."""
    TaskFlowDaphne().run(argv)
