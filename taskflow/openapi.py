"""The OpenAPI schema's error responses: which ones each operation can give, decided in one place.

drf-spectacular describes the success responses of a view. `AutoSchema` adds the errors that
follow from how the view is built, the same way DRF produces them:

- 400 when the operation takes a body or query parameters (validation: DRF's field errors, or
  `{"detail"}` for a malformed body or a broken rule);
- 401 when it needs a signed-in caller (its permissions are not all AllowAny) and its
  authentication challenges one without credentials (`WWW-Authenticate`, as a bearer token's
  does); an endpoint authenticated by the browser session alone answers 403 instead, as DRF does;
- 403 when it also changes something: the caller's role may not allow it, and a session login
  must pass Django's CSRF check;
- 404 when its path names objects (missing and foreign ones alike) or it lists pages (a `page`
  that is not a page number);
- 413 when it takes a body (larger than TASKFLOW_MAX_BODY_BYTES);
- 429 with `Retry-After` when the view is throttled;
- for a write that needs a signed-in caller: the `Idempotency-Key` request header, 400 for a
  malformed one, 409 (a request with the key still runs), 422 (the key was used for another
  request), and `Idempotency-Replayed` on its other answers (accounts.idempotency). Not for a view
  whose answer holds credentials (`answer_holds_credentials`): those ignore the key.

Response components list every field as required: DRF renders them all.

What only a view knows (410 of the events feed, 412 and 304 of tasks, the 401 of the token
endpoints) it declares with `extend_schema`, using `error_response`; a code a view declares is
kept as it is. The status codes a client that follows the schema never meets (405 for another
method, 406 for an `Accept` without JSON, 415 for a body that is not JSON) are left out.
"""

import copy

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import SAFE_METHODS, AllowAny

ERROR = "Error"
VALIDATION_ERROR = "ValidationError"

_MESSAGES = {"type": "array", "items": {"type": "string"}}

COMPONENTS = {
    ERROR: {
        "type": "object",
        "description": "What went wrong, in `detail`.",
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string", "description": "A machine-readable reason, for token errors."},
            "messages": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {"type": "string"}},
                "description": "Why each kind of token was refused, for token errors.",
            },
        },
        "required": ["detail"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "description": (
            "DRF's field errors: each invalid field (or `non_field_errors`) maps to its messages; the "
            "items of a list field map their index to theirs."
        ),
        "additionalProperties": {
            "oneOf": [_MESSAGES, {"type": "object", "additionalProperties": _MESSAGES}],
        },
        "example": {"title": ["This field is required."]},
    },
}


def component_ref(name: str) -> dict:
    """A `$ref` to one of this module's schema components (`ERROR`, `VALIDATION_ERROR`)."""
    return {"$ref": f"#/components/schemas/{name}"}


BAD_REQUEST_SCHEMA = {"oneOf": [component_ref(VALIDATION_ERROR), component_ref(ERROR)]}


def error_response(description: str) -> OpenApiResponse:
    """An error response with the `Error` body (`{"detail": ...}`), for a view's `extend_schema`."""
    return OpenApiResponse(response=component_ref(ERROR), description=description)


HEADER_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before trying again.",
        "required": True,
    }
}
HEADER_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "schema": {"type": "string"},
        "description": 'How to authenticate: `Bearer realm="api"`.',
    }
}


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "Any 1 to 255 visible ASCII characters, new for each write: a repeat of this request with the same key "
        "(same method, path and body), within 24 hours, changes nothing and gets the first answer again."
    ),
}
HEADER_IDEMPOTENCY_REPLAYED = {
    "Idempotency-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "`true` when this is the kept answer of an earlier request with the same `Idempotency-Key`.",
    }
}
# The views whose answers carry new credentials say so (accounts.idempotency): they ignore the key.
CREDENTIALS_ATTRIBUTE = "answer_holds_credentials"


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with the error responses every operation can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for name, schema in COMPONENTS.items():
            registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
            )
        responses = operation["responses"]
        for status_code, response in self.error_responses(operation).items():
            responses.setdefault(status_code, response)
        if self.takes_idempotency_key():
            operation.setdefault("parameters", []).append(copy.deepcopy(IDEMPOTENCY_KEY))
            for status_code, response in responses.items():
                if status_code not in {"409", "422"}:
                    response.setdefault("headers", {}).update(copy.deepcopy(HEADER_IDEMPOTENCY_REPLAYED))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def takes_idempotency_key(self) -> bool:
        """Whether the operation honours `Idempotency-Key`: a write of a signed-in caller."""
        return (
            self.method not in SAFE_METHODS
            and self._needs_login()
            and not getattr(self.view, CREDENTIALS_ATTRIBUTE, False)
        )

    def _needs_login(self) -> bool:
        return not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions())

    def _challenges(self) -> bool:
        """Whether a caller without credentials gets 401: DRF answers 401 when the view's first
        authentication names a `WWW-Authenticate` challenge, else 403 (a session's has none)."""
        authenticators = self.view.get_authenticators()
        return bool(authenticators) and authenticators[0].authenticate_header(self.view.request) is not None

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and spectacular_settings.COMPONENT_SPLIT_REQUEST and schema.get("properties"):
            # A serializer renders every field it has, whatever `required` says (that is about
            # input): a response has them all. Request bodies have components of their own.
            schema["required"] = sorted(schema["properties"])
        return schema

    def error_responses(self, operation: dict) -> dict[str, dict]:
        """The error responses that follow from the view's classes, the method and the operation."""
        locations = {parameter["in"] for parameter in operation.get("parameters", [])}
        parameters = {parameter["name"] for parameter in operation.get("parameters", [])}
        takes_body = "requestBody" in operation
        needs_login = self._needs_login()
        keyed = self.takes_idempotency_key()
        responses = {}
        if takes_body or "query" in locations:
            responses["400"] = self._error(
                "The input is invalid: field errors, or `detail` for a malformed body"
                + (" or a malformed `Idempotency-Key`." if keyed else "."),
                BAD_REQUEST_SCHEMA,
            )
        elif keyed:
            responses["400"] = self._error("The `Idempotency-Key` is malformed: 1 to 255 visible ASCII characters.")
        if needs_login and self._challenges():
            responses["401"] = self._error(
                "No valid credentials: a missing, invalid or expired token, or a user who may no longer sign in.",
                headers=HEADER_WWW_AUTHENTICATE,
            )
        if needs_login and self.method not in SAFE_METHODS:
            responses["403"] = self._error(
                "The caller's role does not allow this (or a session login failed the CSRF check)."
            )
        if "path" in locations:
            responses["404"] = self._error("Not found, or not visible to the caller: the two are never told apart.")
        elif "page" in parameters:
            responses["404"] = self._error("`page` is not a page number (from 1 to 10,000,000).")
        if takes_body:
            responses["413"] = self._error("The request body is larger than the server accepts.")
        if keyed:
            responses["409"] = self._error(
                "A request with this `Idempotency-Key` is still running; send it again later."
            )
            responses["422"] = self._error(
                "This `Idempotency-Key` was used for another request (another method, path or body)."
            )
        if self.view.get_throttles():
            responses["429"] = self._error(
                "Too many requests from this address; try again later.", headers=HEADER_RETRY_AFTER
            )
        return responses

    def _error(self, description: str, schema: dict | None = None, headers: dict | None = None) -> dict:
        schema = schema or component_ref(ERROR)
        response = {
            "content": {media_type: {"schema": schema} for media_type in self.map_renderers("media_type")},
            "description": description,
        }
        if headers:
            # A copy: the operation's other headers (Idempotency-Replayed) are added to it later.
            response["headers"] = copy.deepcopy(headers)
        return response
