"""Sending one webhook request: to the checked addresses only, never following redirects, within a deadline.

The standard library's http.client does the HTTP; the connections here only change where the socket
goes (the addresses `webhooks.addresses` checked, not a second DNS answer) while TLS still checks the
certificate against the URL's host name.
"""

import contextlib
import hashlib
import hmac
import http.client
import socket
import ssl
import threading
from dataclasses import dataclass

from webhooks.addresses import Target
from webhooks.models import RESPONSE_EXCERPT_MAX


@dataclass(frozen=True)
class Answer:
    """What came of one request: the receiver's status and the start of its body, or an error."""

    status: int | None = None
    body: str = ""
    error: str = ""


def signature(*, secret: str, body: bytes) -> str:
    """The `X-TaskFlow-Signature` value: `sha256=` and the hex HMAC-SHA256 of the body with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_post(*, target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to the target and read at most RESPONSE_EXCERPT_MAX bytes of the answer.

    The whole exchange (connecting, sending, the answer's headers and excerpt) must finish within
    `timeout` seconds: a receiver that trickles its answer byte by byte cannot hold a worker longer.
    """
    connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(target, timeout=timeout)
    deadline = _Deadline(connection, timeout)
    try:
        with deadline:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(RESPONSE_EXCERPT_MAX)
        return Answer(status=response.status, body=excerpt.decode("utf-8", errors="replace"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if deadline.expired or isinstance(exc, TimeoutError):
            return Answer(error=f"No answer within {timeout:g} s (timed out).")
        return Answer(error=_describe(exc))
    finally:
        connection.close()


def _describe(exc: Exception) -> str:
    """A one-line account of a failed exchange, for the delivery log."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {(exc.verify_message or str(exc)).rstrip('.')}."
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc}."
    if isinstance(exc, http.client.HTTPException):
        return f"Invalid HTTP answer ({type(exc).__name__}: {exc})."
    if isinstance(exc, OSError):
        return f"Could not connect or send: {exc.strerror or exc}."
    return f"{type(exc).__name__}: {exc}."


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that accepts one, like socket.create_connection
    but without resolving any name."""
    if not addresses:
        raise OSError("No checked address to connect to")
    last_error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            last_error = exc
    raise last_error


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the target's checked addresses, with the URL's host in the Host header."""

    def __init__(self, target: Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the target's checked addresses; the certificate (and SNI) is for the URL's host name."""

    def __init__(self, target: Target, *, timeout: float):
        self.ssl_context = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.ssl_context)
        self.addresses = target.addresses

    def connect(self) -> None:
        sock = _connect(self.addresses, self.port, self.timeout)
        try:
            self.sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class _Deadline:
    """Cuts a connection's socket off when `seconds` have passed before the block ends.

    Socket timeouts bound each read, not the exchange; this bounds the exchange. The socket is shut
    down at the operating-system level, so a read blocked in another thread returns at once.
    """

    def __init__(self, connection: http.client.HTTPConnection, seconds: float):
        self.connection = connection
        self.expired = False
        self._lock = threading.Lock()
        self._finished = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._finished = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            sock = self.connection.sock
            # An OSError means the socket is already closed: the exchange is over anyway.
            if sock is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown: an SSL socket's own would also drop its TLS state
                    # under the reading thread's feet.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
