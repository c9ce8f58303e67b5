"""Request body parsing with a size bound and a clean 400 for any malformed JSON."""

import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class PayloadTooLarge(APIException):
    """A request body over TASKFLOW_MAX_BODY_BYTES (413), refused as soon as it is known to be."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class BoundedJSONParser(JSONParser):
    """JSON parser that refuses bodies over TASKFLOW_MAX_BODY_BYTES with 413.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE (set to the same bound) stops a larger body before it is
    read when DRF reads it through `request.body`; the bound is checked here as well for streams.
    Deeply nested documents raise RecursionError in the json module, which DRF does not catch:
    they are a 400 like any other malformed JSON.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.TASKFLOW_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if declared and int(declared) > limit:
                raise PayloadTooLarge()
        except ValueError:
            raise ParseError("Invalid Content-Length header.") from None
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(body.decode(encoding), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - body is not valid UTF-8.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - document is nested too deeply.") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
