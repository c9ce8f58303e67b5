"""Receiving an uploaded file: held to TASKFLOW_MAX_UPLOAD_BYTES and hashed while it arrives, and its
name and content type made safe to store and to send back.

`UploadHandler` is a Django upload handler (django.core.files.uploadhandler, a public API): the
multipart parser hands it the file a chunk at a time, and it writes them to a temporary file on
disk, never the whole file in memory, counting and hashing as it goes. One byte over the limit
stops the upload with a 413, and the temporary file goes; the rest of the body is never stored.
"""

import hashlib
import mimetypes
import re
import unicodedata

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from attachments.models import FILENAME_MAX
from taskflow.http.parsers import PayloadTooLarge

DEFAULT_FILENAME = "file"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# `type/subtype`, with an optional parameter list (RFC 9110 tokens): anything else is not sent back.
_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;\s*[^\x00-\x1f\x7f]*)?")


class FileTooLarge(PayloadTooLarge):
    default_detail = "The file is larger than the largest attachment allowed."


class UploadHandler(TemporaryFileUploadHandler):
    """Writes each uploaded file to a temporary file, refusing it (413) past TASKFLOW_MAX_UPLOAD_BYTES,
    and leaves its SHA-256 on the file it makes, as `sha256`."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int):
        self.received += len(raw_data)
        if self.received > settings.TASKFLOW_MAX_UPLOAD_BYTES:
            self.file.close()  # the temporary file is deleted with it
            raise FileTooLarge()
        self.digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int):
        upload = super().file_complete(file_size)
        upload.sha256 = self.digest.hexdigest()
        return upload


def filename_clean(name: str | None) -> str:
    """The uploader's file name, safe to store and to send back: its last path component (either
    kind of slash), without control characters, at most FILENAME_MAX characters (the extension
    kept); `file` when nothing is left. `../../etc/passwd` is `passwd`."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(character for character in name if unicodedata.category(character)[0] != "C").strip()
    if name in ("", ".", ".."):
        return DEFAULT_FILENAME
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) < 16:
            name = stem[: FILENAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:FILENAME_MAX]
    return name


def content_type_clean(declared: str | None, filename: str) -> str:
    """The content type to store: the uploader's when it is a well-formed media type, else the one
    the file name suggests, else application/octet-stream. Downloads are sent with `nosniff` and as
    attachments, so a browser never renders one in TaskFlow's origin whatever its type."""
    declared = (declared or "").strip()
    well_formed = len(declared) <= 255 and _CONTENT_TYPE.fullmatch(declared)
    if well_formed and declared.lower() != DEFAULT_CONTENT_TYPE:
        return declared
    return mimetypes.guess_type(filename, strict=False)[0] or DEFAULT_CONTENT_TYPE
