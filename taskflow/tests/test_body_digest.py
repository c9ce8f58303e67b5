"""The digest of a request's body (taskflow.http.body_digest): the same body gives the same digest
however it is read, another body another one, and a multipart body's boundary does not count.

The tripwires at the end name the internals of Django's requests that the module relies on.
"""

import hashlib
import inspect
import io
import re
import tempfile

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest
from django.test import RequestFactory

from taskflow.http.body_digest import DigestingStream, body_digest_read, body_digest_watch

JSON = "application/json"


def json_request(body: bytes):
    """A WSGI request as the test client makes them: its stream is not seekable."""
    return RequestFactory().generic("POST", "/api/tasks/", data=body, content_type=JSON)


def asgi_request(body: bytes, content_type: str = JSON):
    """An ASGI request as taskflow.http.handlers makes them: its body in a seekable spooled file."""
    body_file = tempfile.SpooledTemporaryFile(max_size=1024)  # noqa: SIM115 (the request closes it)
    body_file.write(body)
    body_file.seek(0)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/tasks/",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
    }
    return ASGIRequest(scope, body_file)


def multipart(boundary: str, content: bytes, filename: str = "plan.txt") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def multipart_request(boundary: str, content: bytes, filename: str = "plan.txt"):
    return RequestFactory().generic(
        "POST",
        "/api/tasks/1/attachments/",
        data=multipart(boundary, content, filename),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


BODY = b'{"project": 1, "title": "Ship it"}'


def test_the_same_body_gives_the_same_digest_however_the_view_reads_it():
    whole = body_digest_read(json_request(BODY))
    digests = []
    for chunk in (1, 7, 1000):
        request = json_request(BODY)
        stream = body_digest_watch(request)
        while request.read(chunk):
            pass
        digests.append(stream.finish())

    assert digests == [whole, whole, whole]


def test_what_the_view_left_unread_is_hashed_too():
    request = json_request(BODY)
    stream = body_digest_watch(request)

    assert request.read(5) == BODY[:5]
    assert stream.finish() == body_digest_read(json_request(BODY))


def test_a_body_read_through_request_body_on_a_seekable_stream_is_hashed_once_in_order():
    # `body` seeks to the end to learn the size, back to the start, reads, then replaces the stream.
    request = asgi_request(BODY)
    stream = body_digest_watch(request)

    assert request.body == BODY
    assert stream.finish() == body_digest_read(json_request(BODY))


def test_a_body_read_before_the_digest_started_is_hashed_from_memory():
    request = json_request(BODY)
    assert request.body == BODY

    assert body_digest_watch(request).finish() == body_digest_read(json_request(BODY))


def test_another_body_gives_another_digest():
    assert body_digest_read(json_request(BODY)) != body_digest_read(json_request(BODY.replace(b"Ship", b"Sink")))


def test_the_media_type_is_part_of_the_digest():
    form = RequestFactory().generic("POST", "/api/tasks/", data=BODY, content_type="application/x-www-form-urlencoded")

    assert body_digest_read(form) != body_digest_read(json_request(BODY))


def test_the_digest_is_keyed_by_the_secret_key_not_a_plain_hash(settings):
    digest = body_digest_read(json_request(BODY))
    settings.SECRET_KEY = "another-secret-key-for-this-test"

    assert digest != body_digest_read(json_request(BODY))
    assert digest not in {hashlib.sha256(BODY).hexdigest(), hashlib.sha256(JSON.encode() + b"\n" + BODY).hexdigest()}


def test_a_multipart_body_sent_again_with_another_boundary_gives_the_same_digest():
    first = body_digest_read(multipart_request("boundary-one", b"the plan"))

    assert body_digest_read(multipart_request("an-entirely-different-boundary-2", b"the plan")) == first


def test_a_boundary_split_across_reads_is_still_recognised():
    expected = body_digest_read(multipart_request("split-boundary", b"the plan"))
    request = multipart_request("another-split-one", b"the plan")
    stream = body_digest_watch(request)
    while request.read(3):
        pass

    assert stream.finish() == expected


@pytest.mark.parametrize(("content", "filename"), [(b"another plan", "plan.txt"), (b"the plan", "other.txt")])
def test_another_file_or_name_in_a_multipart_body_gives_another_digest(content, filename):
    assert body_digest_read(multipart_request("b", b"the plan")) != body_digest_read(
        multipart_request("b", content, filename)
    )


# --- Tripwires: what taskflow.http.body_digest relies on in Django's requests --------------------


def test_django_requests_read_their_stream_only_through_what_digesting_stream_offers():
    used = set(re.findall(r"self\._stream\.(\w+)", inspect.getsource(HttpRequest)))

    assert used <= {"read", "readline", "seekable", "seek", "close"}
    assert all(callable(getattr(DigestingStream, name)) for name in used)


def test_django_request_body_reads_through_read_and_then_replaces_the_stream():
    source = inspect.getsource(HttpRequest.body.fget)

    assert "self.read()" in source
    assert "self._stream = BytesIO(self._body)" in source


@pytest.mark.parametrize("request_class", [WSGIRequest, ASGIRequest])
def test_django_requests_set_their_stream_and_read_flag_when_made(request_class):
    source = inspect.getsource(request_class.__init__)

    assert "self._stream = " in source
    assert "self._read_started = False" in source


def test_django_request_read_marks_the_read_started():
    request = json_request(BODY)
    request._stream = io.BytesIO(BODY)

    request.read(1)

    assert request._read_started is True
