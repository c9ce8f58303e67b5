"""Tripwires for the internals of Daphne, autobahn, Twisted and uvicorn that TaskFlow's server
processes lean on (taskflow.http.server_daphne, taskflow.http.server_uvicorn, taskflow.server_process).

Each test names one internal and fails when it changes, so that the module relying on it is looked
at again when a framework is upgraded. What a client notices is tested on real servers, under both
(test_server_process.py, realtime/tests/test_served_close_codes.py); these run in both passes too.
"""

import asyncio
import inspect
import struct

import pytest
from daphne import http_protocol, server, ws_protocol
from daphne.cli import CommandLineInterface
from twisted.internet.testing import StringTransport
from uvicorn import server as uvicorn_server
from uvicorn.protocols.http import httptools_impl

from taskflow.http.server_daphne import (
    SpooledBodyQueue,
    TaskFlowDaphne,
    TaskFlowDaphneServer,
    TaskFlowWebSocketProtocol,
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


@pytest.mark.parametrize("code", PROTOCOL_CLOSE_CODES)
def test_autobahn_writes_a_close_frame_with_any_registered_code_from_send_close_frame(code):
    factory = ws_protocol.WebSocketFactory(None)
    factory.protocol = TaskFlowWebSocketProtocol
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    # As after the opening handshake.
    protocol.state, protocol.websocket_version = protocol.STATE_OPEN, 13

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
