"""A keyed digest of a request's body, taken as the view reads it: what tells a retry of a write
from another request sent with the same `Idempotency-Key` (accounts.idempotency).

The body is never held whole for this. An upload (up to TASKFLOW_MAX_UPLOAD_BYTES) waits in a
temporary file, and Django's multipart parser reads it a chunk at a time into the upload handler
(attachments/tests/test_upload_memory.py bounds the process's memory). So `body_digest_watch` puts
a reader in front of the request's input stream that hashes each byte the first time anything
reads it, and its `finish()` reads and hashes what the view left unread. That stream is
`HttpRequest._stream`, an internal of Django's: `WSGIRequest` and `ASGIRequest` set it when they are
made, and `HttpRequest.read()`, `readline()` and `body` read through it (`body` seeks it to learn
its size, then replaces it with the bytes it read). taskflow/tests/test_body_digest.py fails when
Django changes any of that. A request whose view will not run is hashed by `body_digest_read`,
which reads the body a chunk at a time and keeps none of it.

The digest is an HMAC-SHA256 keyed from SECRET_KEY, not a plain hash: some bodies carry passwords
(a password change), and a plain hash of one kept in the database would let whoever reads the table
test guesses. The body's media type (without its parameters) is part of it. A multipart body's
boundary is new in each request most clients send (curl's is random), so every occurrence of it is
hashed as one fixed marker: the same fields and files sent again give the same digest.
"""

from django.utils.crypto import salted_hmac

CHUNK_BYTES = 64 * 1024
# What a multipart boundary is hashed as. RFC 2046 boundaries are 1 to 70 characters.
_BOUNDARY_MARKER = b"\x00boundary\x00"
_BOUNDARY_MAX = 70


class BodyDigest:
    """The running digest of one body: `update()` with its bytes in order, then `hexdigest()`."""

    def __init__(self, *, content_type: str, boundary: str | None) -> None:
        self._hmac = salted_hmac("taskflow.http.body_digest", b"", algorithm="sha256")
        self._hmac.update(content_type.lower().encode("utf-8", "replace") + b"\n")
        self._delimiter = None
        if boundary and boundary.isascii() and len(boundary) <= _BOUNDARY_MAX:
            self._delimiter = b"--" + boundary.encode("ascii")
        # The end of what came so far that could be the start of a delimiter: hashed later.
        self._pending = b""

    @classmethod
    def of(cls, request) -> "BodyDigest":
        """A digest for this request's body (its media type and multipart boundary)."""
        boundary = request.content_params.get("boundary") if request.content_type == "multipart/form-data" else None
        return cls(content_type=request.content_type or "", boundary=boundary)

    def update(self, data: bytes) -> None:
        if self._delimiter is None:
            self._hmac.update(data)
            return
        buffer = self._pending + data
        start = 0
        while (found := buffer.find(self._delimiter, start)) != -1:
            self._hmac.update(buffer[start:found])
            self._hmac.update(_BOUNDARY_MARKER)
            start = found + len(self._delimiter)
        # A delimiter that starts before `keep` would have been found whole.
        keep = max(start, len(buffer) - (len(self._delimiter) - 1))
        self._hmac.update(buffer[start:keep])
        self._pending = buffer[keep:]

    def hexdigest(self) -> str:
        self._hmac.update(self._pending)
        self._pending = b""
        return self._hmac.hexdigest()


class DigestingStream:
    """The request's input stream, hashing each byte the first time it is read.

    Reads are tracked by position, so a reader that seeks (`HttpRequest.body` seeks to the end to
    learn the size, then back) or reads a part twice still hashes every byte once, in order.
    """

    def __init__(self, stream, digest: BodyDigest) -> None:
        self._stream = stream
        self._digest = digest
        self._position = 0  # of the next byte the stream gives
        self._hashed = 0  # bytes hashed: the first `_hashed` of the body
        self._complete = False
        self._closed = False

    def _take(self, data: bytes, *, to_end: bool) -> bytes:
        start = self._position
        self._position += len(data)
        if start <= self._hashed < self._position:
            self._digest.update(data[self._hashed - start :])
            self._hashed = self._position
        if to_end and start <= self._hashed:
            self._complete = True
        return data

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(size)
        return self._take(data, to_end=_at_end(data, size))

    def readline(self, size: int | None = -1) -> bytes:
        data = self._stream.readline(size)
        return self._take(data, to_end=not data and _at_end(data, size))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, *args) -> int:
        self._position = self._stream.seek(*args)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._closed = True
        self._stream.close()

    def finish(self) -> str:
        """Read and hash what nobody read yet; the body's digest (hex)."""
        if not self._complete:
            if self._closed:
                raise RuntimeError("The request's body stream was closed before it was read to its end.")
            if self.seekable():
                self.seek(self._hashed)
            while self.read(CHUNK_BYTES):
                pass
        return self._digest.hexdigest()


def _at_end(data: bytes, size: int | None) -> bool:
    """Whether a read of `size` bytes that gave `data` reached the end of the stream: it read all
    there was (no size, or a negative one), or got nothing when it asked for something."""
    return size is None or size < 0 or (not data and size != 0)


def body_digest_watch(request) -> DigestingStream:
    """Start hashing the request's body as it is read; `finish()` the result for its digest.

    Call it before anything reads the body. A body read already (`request.body`) is hashed from
    memory.
    """
    digest = BodyDigest.of(request)
    if hasattr(request, "_body"):
        stream = DigestingStream(request._stream, digest)
        stream._take(request._body, to_end=True)
        return stream
    if request._read_started:
        raise RuntimeError("The request's body was read before its digest was started.")
    stream = DigestingStream(request._stream, digest)
    request._stream = stream
    return stream


def body_digest_read(request) -> str:
    """The digest of the request's body, reading it now, a chunk at a time, and keeping nothing:
    for a request whose view will not run."""
    digest = BodyDigest.of(request)
    if hasattr(request, "_body"):
        digest.update(request._body)
    else:
        while chunk := request.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
