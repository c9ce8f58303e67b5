"""The AsyncAPI 3.0 document of the WebSocket stream /ws/, served at `GET /api/asyncapi/`.

Generated, never written by hand: the frames come from realtime.frames (one message per frame
TypedDict), the event types from the event catalogue, and the shapes the REST API shares with the
stream (each event type's `data`, the notification) from the OpenAPI schema, as drf-spectacular
builds it for /api/schema/: the components are the same, under the same names, so the two
documents cannot describe them differently. OpenAPI 3.0's `nullable` becomes JSON Schema's `null`
type, the only difference between its schemas and AsyncAPI's (a superset of JSON Schema draft 7).

The document describes the server: its `receive` operations are the frames a client sends, its
`send` operations those the server sends (each client frame's `reply` names the frames that answer
it). Building it costs a whole OpenAPI generation, so it is built once per process; only its
`servers` (this request's host) differ per request.
"""

import copy
import enum
import functools
import types
import typing

from django.conf import settings
from drf_spectacular.settings import spectacular_settings

from realtime import frames
from realtime.catalogue import CATALOGUE

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "ws"
REF_PREFIX = "#/components/schemas/"

# Frames that carry a resource of the REST API: their fields (but `type`) are its OpenAPI component's.
REST_SHAPES: dict[type, str] = {frames.NotificationFrame: "Notification"}

_SIMPLE_TYPES = {int: "integer", str: "string", bool: "boolean", float: "number", type(None): "null", dict: "object"}


def asyncapi_document(*, host: str, secure: bool) -> dict:
    """The document, with the server clients reach at `host` (wss:// when `secure`)."""
    document = dict(_document())
    document["servers"] = {
        "taskflow": {
            "host": host,
            "protocol": "wss" if secure else "ws",
            "description": "This server: the WebSocket stream is on the same host as the REST API.",
        }
    }
    return document


@functools.cache
def _document() -> dict:
    schemas: dict[str, dict] = {}
    rest = _rest_components()
    messages, channel_messages, operations = {}, {}, {}
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def message_ref(shape: type) -> dict:
        return {"$ref": f"#/channels/{CHANNEL}/messages/{message_name(shape)}"}

    for shape in [frame.shape for frame in frames.CLIENT_FRAMES] + list(frames.SERVER_FRAMES):
        name = message_name(shape)
        if shape is frames.EventFrame:
            payload = _event_frame_schema(schemas, rest)
        elif shape in REST_SHAPES:
            payload = _rest_frame_schema(shape, REST_SHAPES[shape], schemas, rest)
        else:
            payload = json_schema(shape, schemas)
        messages[name] = {
            "name": name,
            "title": frame_title(shape),
            "description": _text(shape.__doc__),
            "contentType": "application/json",
            "payload": payload,
        }
        channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
    for frame in frames.CLIENT_FRAMES:
        operations[f"receive{message_name(frame.shape)}"] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": f"The client sends `{frame_title(frame.shape)}`.",
            "messages": [message_ref(frame.shape)],
            "reply": {"channel": channel_ref, "messages": [message_ref(answer) for answer in frame.answers]},
        }
    for shape in frames.SERVER_FRAMES:
        operations[f"send{message_name(shape)}"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": f"The server sends `{frame_title(shape)}`.",
            "messages": [message_ref(shape)],
        }
    openapi = settings.SPECTACULAR_SETTINGS
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{openapi['TITLE']}: live updates",
            "version": openapi["VERSION"],
            "description": (
                "The WebSocket stream `/ws/`: sign in with a token in the first frame, subscribe to projects, "
                "receive their events in seq order. This document describes the server: its `receive` operations "
                "are the frames clients send, its `send` operations the frames it sends. The REST API is in the "
                "OpenAPI schema (`/api/schema/`), whose components for events' `data` and notifications are the "
                "same as here."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": "/ws/",
                "title": "Live updates",
                "description": _channel_description(),
                "messages": channel_messages,
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
            }
        },
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }


def message_name(shape: type) -> str:
    """The message (and operation) name of a frame: its TypedDict's name without `Frame`."""
    return shape.__name__.removesuffix("Frame")


def frame_title(shape: type) -> str:
    """How the protocol names a frame: its `type`, and its `code` when frames of one type differ by it."""
    hints = typing.get_type_hints(shape)
    title = typing.get_args(hints["type"])[0]
    if "code" in hints:
        title += f" ({typing.get_args(hints['code'])[0]})"
    return title


def _channel_description() -> str:
    lines = [
        "Frames are JSON objects with a `type`, in text frames of at most 64 KiB. The token never goes in "
        "the URL: it is the first frame's.",
        "",
        "The server closes a socket with these codes:",
        "",
        "| code | why | what the client does |",
        "|---|---|---|",
    ]
    lines += [f"| {close.code} | {close.reason} | {close.then} |" for close in frames.CLOSE_CODES]
    lines += ["", "Any other close (1006, 1001, ...): the network or a server went away; reconnect and resume."]
    return "\n".join(lines)


# --- Frames: TypedDicts to JSON Schema --------------------------------------------------------------


def json_schema(annotation, schemas: dict[str, dict]) -> dict:
    """The JSON Schema of a frame field's annotation. A TypedDict is a component of `schemas`
    (added on first use) and comes back as a `$ref` to it."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        schema = json_schema(arguments[0], schemas)
        keywords = {key: value for extra in annotation.__metadata__ for key, value in extra.items()}
        return {"allOf": [schema], **keywords} if "$ref" in schema else {**schema, **keywords}
    if origin in (typing.Required, typing.NotRequired):
        return json_schema(arguments[0], schemas)
    if origin is typing.Literal:
        schema = {"type": _SIMPLE_TYPES[type(arguments[0])]}
        return {**schema, "const": arguments[0]} if len(arguments) == 1 else {**schema, "enum": list(arguments)}
    if origin is list:
        return {"type": "array", "items": json_schema(arguments[0], schemas)}
    if origin in (typing.Union, types.UnionType):
        return _union_schema(arguments, schemas)
    if typing.is_typeddict(annotation):
        return _component(annotation, schemas)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):  # a model's choices
        values = [member.value for member in annotation]
        return {"type": _SIMPLE_TYPES[type(values[0])], "enum": values}
    if annotation not in _SIMPLE_TYPES:
        raise TypeError(f"No JSON Schema for the frame field type {annotation!r}.")
    return {"type": _SIMPLE_TYPES[annotation]}


def _union_schema(arguments: tuple, schemas: dict[str, dict]) -> dict:
    """`X | None` is X's schema with `null` as another type; other unions are a `oneOf`."""
    others = [argument for argument in arguments if argument is not type(None)]
    if len(others) == 1:
        schema = json_schema(others[0], schemas)
        if isinstance(schema.get("type"), str) and "const" not in schema and "enum" not in schema:
            return {**schema, "type": [schema["type"], "null"]}
    return {"oneOf": [json_schema(argument, schemas) for argument in arguments]}


def _component(shape: type, schemas: dict[str, dict]) -> dict:
    name = shape.__name__
    if name not in schemas:
        schemas[name] = {}  # taken, while its fields are converted
        hints = typing.get_type_hints(shape, include_extras=True)
        schemas[name] = _object(shape, {field: json_schema(annotation, schemas) for field, annotation in hints.items()})
    return {"$ref": REF_PREFIX + name}


def _object(shape: type, properties: dict[str, dict]) -> dict:
    schema = {"type": "object", "properties": properties}
    required = [field for field in properties if field in shape.__required_keys__]
    if required:
        schema["required"] = required
    if shape.__doc__:
        schema["description"] = _text(shape.__doc__)
    return schema


def _text(docstring: str) -> str:
    return " ".join(docstring.split())


# --- Shapes shared with the REST API: from the OpenAPI schema ---------------------------------------


def _rest_components() -> dict[str, dict]:
    """The OpenAPI schema's components (as /api/schema/ has them), unconverted."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    return generator.get_schema(request=None, public=True)["components"]["schemas"]


def _use_rest_component(name: str, schemas: dict[str, dict], rest: dict[str, dict]) -> dict:
    """A `$ref` to OpenAPI component `name`, copied into `schemas` (with those it refers to)."""
    schema = openapi_to_json_schema(rest[name])
    if name not in schemas:
        schemas[name] = schema
        for reference in _references(rest[name]):
            _use_rest_component(reference, schemas, rest)
    elif schemas[name] != schema:
        raise ValueError(f"Two schemas named {name}: a frame's and the OpenAPI schema's.")
    return {"$ref": REF_PREFIX + name}


def _references(schema) -> list[str]:
    """The names of the components a schema refers to, at any depth."""
    if isinstance(schema, dict):
        found = [schema["$ref"].removeprefix(REF_PREFIX)] if "$ref" in schema else []
        return found + [name for value in schema.values() for name in _references(value)]
    if isinstance(schema, list):
        return [name for value in schema for name in _references(value)]
    return []


def openapi_to_json_schema(schema: dict) -> dict:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes the `null` type (or a null
    value of an enum, or `anyOf` null for a schema without a type)."""
    schema = dict(schema)
    for keyword in ("properties", "patternProperties"):
        if keyword in schema:
            schema[keyword] = {name: openapi_to_json_schema(value) for name, value in schema[keyword].items()}
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(keyword), dict):
            schema[keyword] = openapi_to_json_schema(schema[keyword])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema:
            schema[keyword] = [openapi_to_json_schema(value) for value in schema[keyword]]
    if not schema.pop("nullable", False):
        return schema
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _event_frame_schema(schemas: dict[str, dict], rest: dict[str, dict]) -> dict:
    """The `event` frame: one schema per event type of the catalogue, its `data` the component the
    OpenAPI schema gives that type's `data` in the changes feed; the frame is their `oneOf`."""
    json_schema(frames.EventFrame, schemas)
    common = schemas.pop(frames.EventFrame.__name__)
    mapping = rest["Event"]["discriminator"]["mapping"]
    variants = []
    for kind in CATALOGUE:
        feed_event = rest[mapping[kind.type.value].removeprefix(REF_PREFIX)]
        data = feed_event["properties"]["data"]["$ref"].removeprefix(REF_PREFIX)
        variant = copy.deepcopy(common)
        variant["properties"]["event"] = {"type": "string", "const": kind.type.value}
        variant["properties"]["data"] = _use_rest_component(data, schemas, rest)
        variant["description"] = kind.summary
        name = "".join(part.title() for part in kind.type.value.split(".")) + "EventFrame"
        schemas[name] = variant
        variants.append({"$ref": REF_PREFIX + name})
    common["properties"]["event"] = {
        **common["properties"]["event"],
        "enum": [kind.type.value for kind in CATALOGUE],
    }
    schemas[frames.EventFrame.__name__] = {**common, "discriminator": "event", "oneOf": variants}
    return {"$ref": REF_PREFIX + frames.EventFrame.__name__}


def _rest_frame_schema(shape: type, component: str, schemas: dict[str, dict], rest: dict[str, dict]) -> dict:
    """A frame carrying a REST resource: its `type`, then the fields of the resource's component."""
    resource = rest[component]
    properties = {"type": json_schema(typing.get_type_hints(shape)["type"], schemas)}
    for field in typing.get_type_hints(shape):
        if field != "type":
            properties[field] = openapi_to_json_schema(resource["properties"][field])
    for reference in _references(resource):
        _use_rest_component(reference, schemas, rest)
    schemas[shape.__name__] = _object(shape, properties)
    return {"$ref": REF_PREFIX + shape.__name__}
