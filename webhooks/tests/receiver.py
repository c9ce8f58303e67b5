"""A real webhook receiver for tests: an HTTP server on a loopback port, in a thread of the test.

It records every request (method, path, headers, body) and answers 200 unless told otherwise:
`receiver.answer(500, 200)` queues the next answers (a status, or HANG to keep the request waiting
until the test ends).
"""

import hashlib
import hmac
import json
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Message  # case-insensitive, as a receiver reads them
    body: bytes


class Receiver:
    def __init__(self, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.requests: list[Received] = []
        self._answers: deque = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.server = _Server((host, 0), _Handler)
        self.server.receiver = self
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def bodies(self) -> list[dict]:
        """The JSON bodies received, in order."""
        return [json.loads(request.body) for request in self.requests]

    def answer(self, *answers: int | str) -> None:
        """Queue the answers to the next requests, in order; after them it answers 200 again."""
        with self._lock:
            self._answers.extend(answers)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def _record(self, request: Received) -> int | str:
        with self._lock:
            self.requests.append(request)
            return self._answers.popleft() if self._answers else 200


def signature_of(secret: str, body: bytes) -> str:
    """The signature as a receiver computes it to check `X-TaskFlow-Signature` (see docs/webhooks.md)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging request must not hold up the end of the test
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = receiver._record(Received(self.command, self.path, self.headers, body))
        if answer == HANG:
            receiver._released.wait(timeout=30)
            return
        text = f"answer {answer}".encode()
        self.send_response(answer)
        if 300 <= answer < 400:
            self.send_header("Location", receiver.url("/moved"))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format, *args) -> None:
        pass  # the test asserts on what was received; access lines would only be noise
