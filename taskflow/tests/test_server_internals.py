"""Tripwires for the internals of Daphne, autobahn, Twisted and uvicorn that TaskFlow's server
processes lean on (taskflow.http.server_daphne, taskflow.http.server_uvicorn, taskflow.server_process).

Each test names one internal and fails when it changes, so that the module relying on it is looked
at again when a framework is upgraded. What a client notices is tested on real servers, under both
(test_server_process.py, realtime/tests/test_served_close_codes.py); these run in both passes too.
"""

import asyncio
import inspect
import socket
import struct

import pytest
from autobahn.exception import PayloadExceededError
from autobahn.twisted.websocket import WebSocketAdapterProtocol
from daphne import http_protocol, server, ws_protocol
from daphne.cli import CommandLineInterface
from twisted.internet import abstract, base, main, tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor, StringTransport
from uvicorn import server as uvicorn_server
from uvicorn.protocols.http import httptools_impl

from taskflow.http.server_daphne import (
    PassWriter,
    PreparedFrames,
    SpooledBodyQueue,
    TaskFlowDaphne,
    TaskFlowDaphneServer,
    TaskFlowWebSocketProtocol,
    busy_connections,
    transport_write,
    unsent_bytes,
)
from taskflow.http.server_uvicorn import TaskFlowHttpToolsProtocol

PROTOCOL_CLOSE_CODES = (1009, 1012, 1013)


def _source(function) -> str:
    return inspect.getsource(function)


# --- autobahn -------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", PROTOCOL_CLOSE_CODES)
def test_autobahn_still_refuses_protocol_close_codes_in_send_close(code):
    # If this fails, autobahn sends these codes itself: TaskFlowWebSocketProtocol.serverClose can go.
    protocol = TaskFlowWebSocketProtocol()

    with pytest.raises(Exception, match="invalid close code"):
        protocol.sendClose(code=code)


def _open_protocol(protocol_class):
    """A `protocol_class` connection writing to an in-memory transport, as after the opening
    handshake; returns (protocol, transport)."""
    factory = ws_protocol.WebSocketFactory(None)
    factory.protocol = protocol_class
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state, protocol.websocket_version = protocol.STATE_OPEN, 13
    return protocol, transport


@pytest.mark.parametrize("code", PROTOCOL_CLOSE_CODES)
def test_autobahn_writes_a_close_frame_with_any_registered_code_from_send_close_frame(code):
    protocol, transport = _open_protocol(TaskFlowWebSocketProtocol)

    protocol.serverClose(code=code)

    assert code in protocol.CLOSE_STATUS_CODES_ALLOWED
    assert transport.value() == bytes([0x88, 2]) + struct.pack("!H", code)


def test_autobahn_fails_oversized_messages_with_a_close_frame_when_not_failing_by_drop():
    factory = ws_protocol.WebSocketFactory(None)

    factory.setProtocolOptions(failByDrop=False, maxMessagePayloadSize=64 * 1024)

    assert factory.failByDrop is False
    # Each protocol copies its options from the factory when it connects.
    assert {"failByDrop", "maxMessagePayloadSize", "maxFramePayloadSize"} <= set(factory.protocol.CONFIG_ATTRS)
    assert "CLOSE_STATUS_CODE_MESSAGE_TOO_BIG" in _source(ws_protocol.WebSocketProtocol._max_message_size_exceeded)


def test_autobahn_send_data_writes_unqueued_frames_to_the_transport_and_counts_them():
    # TaskFlowWebSocketProtocol.sendData is this branch of autobahn's, without its debug line: if
    # autobahn's changes, compare the two again (and drop the override if the line became lazy).
    send_data = _source(ws_protocol.WebSocketProtocol.sendData)
    assert list(inspect.signature(ws_protocol.WebSocketProtocol.sendData).parameters) == [
        "self",
        "data",
        "sync",
        "chopsize",
    ]
    assert "if sync or len(self.send_queue) > 0:" in send_data
    assert "self.transport.write(data)" in send_data
    assert "func=hltype(self.sendData)" in send_data
    assert "self.trafficStats.outgoingOctetsWireLevel += len(data)" in send_data
    assert "self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)" in send_data
    assert "self.logTxOctets(data, False)" in send_data


def test_the_frames_taskflows_protocol_sends_are_autobahns_bytes_and_counted():
    sent = {}
    for protocol_class in (ws_protocol.WebSocketProtocol, TaskFlowWebSocketProtocol):
        protocol, transport = _open_protocol(protocol_class)

        protocol.sendMessage(b'{"type":"event","seq":1}')
        protocol.sendMessage(b"x" * 70_000)

        sent[protocol_class] = (transport.value(), protocol.trafficStats.outgoingOctetsWireLevel)
    assert sent[TaskFlowWebSocketProtocol] == sent[ws_protocol.WebSocketProtocol]
    assert sent[TaskFlowWebSocketProtocol][1] == len(sent[TaskFlowWebSocketProtocol][0]) > 70_000


def _sent_texts(protocol_class, texts, **options):
    """What a `protocol_class` connection writes for Daphne's `serverSend` of each of `texts`, and
    autobahn's counters after it."""
    protocol, transport = _open_protocol(protocol_class)
    protocol.client_addr = ["127.0.0.1", 50000]  # Daphne's serverSend logs it
    for name, value in options.items():
        setattr(protocol, name, value)
    for text in texts:
        protocol.serverSend(text, False)
    stats = protocol.trafficStats
    counters = (
        stats.outgoingWebSocketMessages,
        stats.outgoingOctetsAppLevel,
        stats.outgoingOctetsWebSocketLevel,
        stats.outgoingOctetsWireLevel,
    )
    return transport.value(), counters


def test_prepared_frames_are_the_bytes_and_counts_of_autobahns_send_message():
    texts = ['{"type":"event","seq":1}', '{"type":"event","seq":1}', "tâche déplacée ✓" * 20, "x" * 70_000]

    taskflow = _sent_texts(TaskFlowWebSocketProtocol, texts)
    daphne = _sent_texts(ws_protocol.WebSocketProtocol, texts)

    assert taskflow == daphne
    assert taskflow[1][0] == 4 and taskflow[1][3] == len(taskflow[0])


@pytest.mark.parametrize("protocol_class", [TaskFlowWebSocketProtocol, ws_protocol.WebSocketProtocol])
def test_a_message_over_autobahns_size_limit_is_refused_by_autobahn(protocol_class):
    with pytest.raises(PayloadExceededError, match="exceeding payload limit of 1000"):
        _sent_texts(protocol_class, ["small", "y" * 5_000], maxMessagePayloadSize=1_000)


def test_a_message_over_autobahns_fragment_size_is_fragmented_by_autobahn():
    texts = ["small", "y" * 5_000]

    taskflow = _sent_texts(TaskFlowWebSocketProtocol, texts, autoFragmentSize=1_000)

    assert taskflow == _sent_texts(ws_protocol.WebSocketProtocol, texts, autoFragmentSize=1_000)
    assert taskflow[0].count(b"y" * 1_000) == 5  # five fragments of the large one


def test_prepared_frames_are_built_once_per_text_and_only_the_last_ones_kept():
    class CountingFactory(ws_protocol.WebSocketFactory):
        prepared = 0

        def prepareMessage(self, *args, **kwargs):
            CountingFactory.prepared += 1
            return super().prepareMessage(*args, **kwargs)

    factory = CountingFactory(None)
    frames = PreparedFrames(size=2)

    first = frames.get(factory, "event 1")
    assert frames.get(factory, "event 1") is first and CountingFactory.prepared == 1
    frames.get(factory, "event 2")
    frames.get(factory, "event 3")  # the oldest, "event 1", is dropped

    again = frames.get(factory, "event 1")
    assert CountingFactory.prepared == 4 and again is not first and again.payloadHybi == first.payloadHybi


def test_daphne_sends_text_through_send_message_and_autobahn_sends_prepared_frames_as_they_are():
    # TaskFlowWebSocketProtocol.serverSend stands in for these two: if either changes, compare it
    # with them again.
    server_send = _source(ws_protocol.WebSocketProtocol.serverSend)
    assert 'self.sendMessage(content.encode("utf8"), binary)' in server_send
    assert "self.serverAccept()" in server_send
    assert "self.sendData(preparedMsg.payloadHybi)" in _source(ws_protocol.WebSocketProtocol.sendPreparedMessage)
    send_message = _source(ws_protocol.WebSocketProtocol.sendMessage)
    for line in (
        "self.trafficStats.outgoingWebSocketMessages += 1",
        "self.trafficStats.outgoingOctetsAppLevel += payload_len",
        "self.trafficStats.outgoingOctetsWebSocketLevel += payload_len",
        "if 0 < self.maxMessagePayloadSize < payload_len:",
        "if self.autoFragmentSize > 0:",
    ):
        assert line in send_message


# --- Twisted --------------------------------------------------------------------------------------


@pytest.fixture
def tcp_connection():
    """A Twisted TCP connection on one end of a socket pair, its reactor an in-memory one that
    records which sockets wait to be written; yields (connection, reactor, the other end)."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.setblocking(False)
    reactor = MemoryReactor()
    connection = tcp.Connection(ours, Protocol(), reactor)
    connection.connected = 1
    yield connection, reactor, theirs
    ours.close()
    theirs.close()


def _received(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_write_with_nothing_waiting_is_sent_at_once_and_what_the_socket_refuses_waits_in_order(tcp_connection):
    connection, reactor, peer = tcp_connection

    transport_write(connection, b"first frame")

    # Sent by this call, not on the reactor's next pass: the socket was never registered.
    assert _received(peer) == b"first frame" and connection not in reactor.writers

    frames = [bytes([n]) * 50_000 for n in range(1, 9)]  # far more than the two buffers hold
    for frame in frames:
        transport_write(connection, frame)
    assert connection in reactor.writers  # the rest waits for the reactor, in Twisted's buffers

    received = b""
    while connection in reactor.writers:
        received += _received(peer)
        assert connection.doWrite() is None  # the reactor's pass, here by hand
    received += _received(peer)
    assert received == b"".join(frames)


def test_a_write_to_a_connection_gone_is_left_to_twisted_which_reports_it_lost(tcp_connection):
    connection, reactor, peer = tcp_connection
    peer.close()

    transport_write(connection, b"nobody reads this")

    assert connection in reactor.writers
    assert connection.doWrite() is main.CONNECTION_LOST


def test_frames_written_in_one_pass_of_the_loop_go_out_together_at_its_end(tcp_connection):
    connection, reactor, peer = tcp_connection
    writer = PassWriter()

    async def one_pass() -> bytes:
        for frame in (b"one ", b"two ", b"three"):
            writer.write(connection, frame)
        assert _received(peer) == b""  # nothing before the pass ends
        await asyncio.sleep(0)
        return _received(peer)

    assert asyncio.run(one_pass()) == b"one two three"
    assert connection not in reactor.writers


def test_a_socket_that_fails_to_write_is_dropped_and_the_others_of_the_pass_still_get_their_frames(tcp_connection):
    connection, _reactor, peer = tcp_connection

    class Broken(StringTransport):
        def write(self, data):
            raise RuntimeError("the transport broke")

        def abortConnection(self):
            self.aborted = True

    broken = Broken()
    writer = PassWriter()

    async def one_pass() -> bytes:
        writer.write(broken, b"lost")
        writer.write(connection, b"delivered")
        await asyncio.sleep(0)
        return _received(peer)

    assert asyncio.run(one_pass()) == b"delivered"
    assert broken.aborted is True


def test_closing_a_websocket_sends_the_frames_still_waiting_first():
    protocol, transport = _open_protocol(TaskFlowWebSocketProtocol)

    async def send_then_close() -> bytes:
        protocol.sendMessage(b'{"type":"event","seq":7}')
        protocol.sendCloseFrame(code=1012, isReply=False)
        protocol._closeConnection(abort=False)
        return transport.value()

    sent = asyncio.run(send_then_close())

    assert sent.endswith(bytes([0x88, 2]) + struct.pack("!H", 1012)) and b'"seq":7' in sent
    assert transport.disconnecting


def test_autobahn_closes_the_tcp_connection_through_close_connection():
    # TaskFlowWebSocketProtocol._closeConnection sends the frames waiting in the pass writer first.
    assert "self.transport.loseConnection()" in _source(WebSocketAdapterProtocol._closeConnection)
    assert "self._closeConnection(abort)" in _source(ws_protocol.WebSocketProtocol.dropConnection)


def test_twisted_tcp_buffers_writes_until_the_reactor_writes_them():
    # transport_write stands in for FileDescriptor.write when its buffers are empty: if these
    # change, compare the two again.
    write = _source(abstract.FileDescriptor.write)
    assert "self._tempDataBuffer.append(data)" in write and "self.startWriting()" in write
    do_write = _source(abstract.FileDescriptor.doWrite)
    assert "self.writeSomeData(self.dataBuffer)" in do_write
    assert "if self.offset == len(self.dataBuffer) and not self._tempDataLen:" in do_write
    assert "return main.CONNECTION_LOST" in _source(tcp.Connection.writeSomeData)
    assert {"TLS", "disconnecting", "_writeDisconnected"} <= set(dir(tcp.Connection))


class _FinishedRequest:
    """A request Daphne marked finished, answered on `transport`."""

    def __init__(self, transport) -> None:
        self.transport = transport


def test_a_stop_waits_for_a_finished_response_until_the_socket_took_its_bytes(tcp_connection):
    connection, _reactor, peer = tcp_connection
    response = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}"
    connection.write(response)  # as Twisted's Request.finish leaves it: in the buffer, not sent
    finished = _FinishedRequest(connection)
    connections = {finished: {"connected": 1.0, "disconnected": 2.0}}

    assert unsent_bytes(connection) == len(response)
    assert busy_connections(connections) == [finished]

    connection.doWrite()  # the reactor's next pass
    assert _received(peer) == response
    assert unsent_bytes(connection) == 0
    assert busy_connections(connections) == []


def test_a_stop_waits_for_requests_in_flight_and_not_for_connections_gone(tcp_connection):
    connection, _reactor, _peer = tcp_connection
    in_flight, upgraded, gone = _FinishedRequest(connection), _FinishedRequest(None), _FinishedRequest(connection)
    connections = {in_flight: {"connected": 1.0}, upgraded: {"connected": 1.0, "disconnected": 2.0}}

    assert busy_connections(connections) == [in_flight]

    gone.transport.write(b"never sent")
    gone.transport.connected = 0  # its connection was lost: nothing waits for it any more
    assert busy_connections({gone: {"connected": 1.0, "disconnected": 2.0}}) == []


def test_twisted_drops_what_its_buffers_hold_when_the_reactor_shuts_down():
    # busy_connections waits for these bytes: a reactor that shuts down loses every connection at
    # once (connectionLost, no flush), so the graceful stop must not stop it before they are sent.
    assert 'self.addSystemEventTrigger("during", "shutdown", self.disconnectAll)' in _source(base.ReactorBase.__init__)
    assert "reader.connectionLost, Failure(main.CONNECTION_LOST)" in _source(base.ReactorBase.disconnectAll)
    assert {"dataBuffer", "offset"} <= set(vars(abstract.FileDescriptor))
    assert "self._tempDataLen = 0" in _source(abstract.FileDescriptor.__init__)


# --- Daphne ---------------------------------------------------------------------------------------


def test_daphne_closes_websockets_through_server_close():
    assert "self.serverClose(code=" in _source(ws_protocol.WebSocketProtocol.handle_reply)


def test_daphne_builds_its_factories_in_run_before_the_reactor_runs():
    run = _source(server.Server.run)

    assert run.index("self.ws_factory = ") < run.index("reactor.run(")
    assert run.index("self.http_factory = ") < run.index("reactor.run(")
    assert "reactor.run(installSignalHandlers=self.signal_handlers)" in run
    assert "addCallback(self.listen_success)" in run
    assert "signal_handlers" in inspect.signature(server.Server.__init__).parameters


def test_daphne_command_line_builds_its_server_class():
    assert TaskFlowDaphne.server_class is TaskFlowDaphneServer
    assert "self.server_class(" in _source(CommandLineInterface.run)


def test_daphne_marks_finished_requests_and_closed_sockets_disconnected():
    for method in (
        http_protocol.WebRequest.finish,
        http_protocol.WebRequest.connectionLost,
        ws_protocol.WebSocketProtocol.onClose,
    ):
        assert "protocol_disconnected(self)" in _source(method), method.__qualname__
    assert '"disconnected"' in _source(server.Server.protocol_disconnected)


def test_twisted_http_channels_take_the_idle_timeout_of_daphnes_factory():
    factory = http_protocol.HTTPFactory(server=None)
    factory.timeOut = 3

    assert factory.buildProtocol(None).timeOut == 3


def test_daphne_http_requests_get_their_input_queue_from_create_application_and_fill_it_at_once():
    # TaskFlowDaphneServer.create_application makes that queue a SpooledBodyQueue (bodies on disk):
    # it must still be where the request's queue comes from, and what its chunks are put into.
    assert list(inspect.signature(server.Server.create_application).parameters) == ["self", "protocol", "scope"]
    process = _source(http_protocol.WebRequest.process)
    assert "self.server.create_application" in process
    assert "self.application_queue.put_nowait(payload)" in process
    create = _source(server.Server.create_application)
    assert "receive=input_queue.get" in create
    assert 'self.connections[protocol]["application_instance"]' in create


def test_the_spooled_body_queue_gives_the_chunks_back_in_order():
    async def run() -> list[dict]:
        queue = SpooledBodyQueue()
        for index, chunk in enumerate([b"first ", b"", b"second", b"!"]):
            queue.put_nowait({"type": "http.request", "body": chunk, "more_body": index < 3})
        queue.put_nowait({"type": "http.disconnect"})
        return [await queue.get() for _ in range(5)]

    messages = asyncio.run(run())
    assert [message.get("body") for message in messages] == [b"first ", b"", b"second", b"!", None]
    assert [message["type"] for message in messages][-1] == "http.disconnect"


# --- uvicorn --------------------------------------------------------------------------------------


def test_uvicorn_http_protocol_calls_the_hooks_of_the_header_deadline():
    base = httptools_impl.HttpToolsProtocol
    for name in ("connection_made", "on_headers_complete", "on_response_complete", "connection_lost"):
        assert getattr(TaskFlowHttpToolsProtocol, name) is not getattr(base, name)
        assert list(inspect.signature(getattr(base, name)).parameters) == list(
            inspect.signature(getattr(TaskFlowHttpToolsProtocol, name)).parameters
        ), name
    assert "on_response=self.on_response_complete" in _source(base.on_headers_complete)
    assert "self.pipeline" in _source(base.__init__) and "self.loop = " in _source(base.__init__)


def test_uvicorn_closes_the_sockets_it_was_given_when_it_stops():
    assert "sock.close()" in _source(uvicorn_server.Server.shutdown)


def test_uvicorn_raises_the_signal_it_stopped_for_again():
    assert "signal.raise_signal" in _source(uvicorn_server.Server.capture_signals)
