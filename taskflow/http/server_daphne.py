"""Daphne as TaskFlow serves with it: the protocol's close codes, oversized frames refused by the
protocol layer, frames written without formatting a log line nobody reads and sent once per pass of
the event loop, an event's frame built once for all the sockets it goes to, idle HTTP connections closed, request
bodies kept out of memory, and a graceful stop on SIGTERM.

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
from collections import OrderedDict
from functools import partial

import daphne.server  # noqa: F401  (installs Twisted's asyncio reactor: before anything imports a reactor)
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor, tcp

from taskflow.http.daphne_body_limit import body_limit_install

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
# How often a stopping server looks whether its last requests and sockets are done.
STOP_POLL_SECONDS = 0.05


class PreparedFrames:
    """The WebSocket frames of the texts sent last in this process, each built once.

    Every socket subscribed to a project is sent the same text for each event (the frame is
    encoded once per event, realtime.events.event_message), and Daphne's `serverSend` encodes it
    and autobahn's `sendMessage` frames it again for each socket. autobahn's PreparedMessage (its
    public API for broadcast: `prepareMessage`, `sendPreparedMessage`) holds the frame's bytes; the
    last `size` of them are kept here, by text, so each event is encoded and framed once per
    process. The oldest goes first: a few events are being delivered at any time, never many.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._frames: OrderedDict = OrderedDict()

    def get(self, factory, text: str):
        """The prepared frame of `text` (a text message), made by `factory` if it is not kept."""
        prepared = self._frames.get(text)
        if prepared is None:
            prepared = factory.prepareMessage(text.encode("utf-8"), isBinary=False)
            self._frames[text] = prepared
            if len(self._frames) > self.size:
                self._frames.popitem(last=False)
        return prepared


def unsent_bytes(transport) -> int:
    """How many bytes written to a Twisted TCP transport wait in its buffers for the socket to take
    them (0 for a connection that is gone, or a transport that is not plain TCP).

    Reads internals of `twisted.internet.tcp.Connection`: `dataBuffer` past `offset`, and
    `_tempDataLen` (written since its last `doWrite`).
    """
    if not isinstance(transport, tcp.Connection) or not transport.connected:
        return 0
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def transport_write(transport, data: bytes) -> None:
    """Write `data` to a Twisted transport: to the socket at once when nothing waits before it,
    the rest (or all, on an error) through Twisted's own `write`.

    Uses internals of `twisted.internet.tcp.Connection`: `writeSomeData` (one `send`, returning
    the bytes sent or the error) when its buffers are empty (unsent_bytes). An error is left to
    Twisted, which loses the connection on its next write as it always does. TLS connections, and
    any connection not simply open, take `write` alone.
    """
    if (
        isinstance(transport, tcp.Connection)
        and transport.connected
        and not (transport.TLS or transport.disconnecting or transport._writeDisconnected)
        and not unsent_bytes(transport)
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            data = data[sent:]
    if data:
        transport.write(data)


class PassWriter:
    """The frames written to each socket in one pass of the event loop, sent at its end: joined,
    with one `send` per socket (transport_write).

    Twisted's TCP `write` only buffers: it registers the socket with the reactor for writing,
    sends on the reactor's next pass (`doWrite`), then unregisters it, so each frame cost two
    changes of the epoll set and asyncio's bookkeeping of them besides its `send`. Profiled in a
    WebSocket-only Daphne process fanning events out to 500 sockets, that was more than a third
    of its busy time (bench/README.md). Sending each frame at once instead measured faster at
    1,000 subscribers and far slower at 2,000, where the CPUs are saturated: a socket that is
    behind had its frames joined into one `send` by the wait, and sending them one by one costs
    the relay and the client a read each. Here frames still wait for the end of the pass, and go
    out together, without the epoll changes.

    Everything else that writes to or closes a transport with frames waiting here sends them first
    (TaskFlowWebSocketProtocol), so nothing overtakes them. One serves every socket of a process.
    """

    def __init__(self) -> None:
        self._waiting: dict = {}

    def write(self, transport, data: bytes) -> None:
        chunks = self._waiting.get(transport)
        if chunks is not None:
            chunks.append(data)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no reactor running (a protocol driven by hand): no pass to wait for
            transport_write(transport, data)
            return
        if not self._waiting:
            # Twisted's asyncio reactor runs on this loop: this runs once its current pass ends.
            loop.call_soon(self.flush)
        self._waiting[transport] = [data]

    def discard(self, transport) -> None:
        """Forget what waits for `transport` (its connection is being aborted)."""
        self._waiting.pop(transport, None)

    def flush_socket(self, transport) -> None:
        """Send what waits for `transport` now (before another write to it, or its close)."""
        chunks = self._waiting.pop(transport, None)
        if chunks:
            transport_write(transport, b"".join(chunks))

    def flush(self) -> None:
        """Send what waits for every socket: the end of the pass."""
        waiting, self._waiting = self._waiting, {}
        for each, chunks in waiting.items():
            try:
                transport_write(each, b"".join(chunks))  # one chunk is joined without a copy
            except Exception:
                # Not this socket's frames only: the others of the pass still go. This one is
                # dropped, so that its client reconnects and resumes from its last seq.
                logger.exception("Could not write to a WebSocket; dropping its connection.")
                each.abortConnection()


class TaskFlowWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol, closing with any code RFC 6455 lets an endpoint send.

    Daphne closes through autobahn's `sendClose`, which refuses every code but 1000 and 3000-4999
    (the ones autobahn thinks an application may choose) by raising. The application then died
    and the client got 1011 a second later, where TaskFlow's protocol says 1009 (frame too big),
    1012 (server restarting) or 1013 (too slow: reconnect and resume). Those codes are in the
    RFC's and IANA's registry for a server to send; autobahn sends them itself through
    `sendCloseFrame` (its close for protocol errors, 1009 included), which this uses for them.

    Its text messages go as frames prepared once per process (PreparedFrames), and its frames
    through the process's pass writer (PassWriter).
    """

    prepared_frames = PreparedFrames()
    pass_writer = PassWriter()

    def serverClose(self, code=None):
        if code is not None and code in self.CLOSE_STATUS_CODES_ALLOWED:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code=code)

    def _closeConnection(self, abort: bool = False) -> None:
        # autobahn's way to close the TCP connection: the frames waiting (a close frame among
        # them) go first, unless the connection is aborted.
        if abort:
            self.pass_writer.discard(self.transport)
        else:
            self.pass_writer.flush_socket(self.transport)
        super()._closeConnection(abort=abort)

    def serverSend(self, content, binary=False) -> None:
        """Daphne's `serverSend` (an ASGI `websocket.send`) for a text message on an open socket,
        sent as a frame prepared once for every socket (PreparedFrames). What autobahn's
        `sendMessage` does besides framing is kept: its counters, and its own path for a socket
        that is not open, a compressed one, and a message over its size or fragment limits
        (`maxMessagePayloadSize`, `autoFragmentSize`)."""
        if binary or self.state != self.STATE_OPEN or self._perMessageCompress is not None:
            super().serverSend(content, binary)
            return
        prepared = self.prepared_frames.get(self.factory, content)
        size = len(prepared.payload)
        if 0 < self.maxMessagePayloadSize < size or 0 < self.autoFragmentSize < size:
            super().serverSend(content, binary)
            return
        self.trafficStats.outgoingWebSocketMessages += 1
        self.trafficStats.outgoingOctetsAppLevel += size
        self.trafficStats.outgoingOctetsWebSocketLevel += size
        self.sendPreparedMessage(prepared)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """autobahn's `sendData` for its usual case (nothing queued, no chopping), minus its debug
        log line and written through the pass writer (PassWriter); the other cases are autobahn's
        own, after what waits in the pass writer for this socket.

        autobahn builds that line's arguments for every frame before the logger decides to drop
        it: names colored with click (`autobahn.util.hltype`, `hlval`). Profiled in a
        WebSocket-only Daphne process pushing events to 1,000 sockets, that was a third of its CPU
        (bench/README.md). What autobahn does besides, counting the bytes and its octet log when
        enabled, is kept.
        """
        if chopsize or sync or self.send_queue:
            self.pass_writer.flush_socket(self.transport)
            super().sendData(data, sync=sync, chopsize=chopsize)
            return
        self.pass_writer.write(self.transport, data)
        if self.state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        elif self.state in (self.STATE_CONNECTING, self.STATE_PROXY_CONNECTING):
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)
        if self.logOctets:
            self.logTxOctets(data, False)


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


def busy_connections(connections: dict) -> list:
    """The protocols of Daphne's `connections` (its `Server.connections`) that a graceful stop
    waits for: those not "disconnected", and those whose last bytes Twisted still holds.

    Daphne marks a connection "disconnected" once its response is finished or its socket is closed
    (the client answered the close, or autobahn gave up waiting after a second). A finished
    response may still wait in Twisted's buffers for the reactor's next pass, and a reactor that
    stops first drops it with the connection: the client of a request that finished just as the
    stop looked would get no answer at all.
    """
    return [
        protocol
        for protocol, details in connections.items()
        if "disconnected" not in details or unsent_bytes(getattr(protocol, "transport", None))
    ]


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
        busy = busy_connections(self.connections)
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
