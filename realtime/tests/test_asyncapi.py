"""The AsyncAPI document of /ws/ at /api/asyncapi/: a valid AsyncAPI 3.0.0 document, generated
from the frames (realtime.frames) and the event catalogue, with the same event data as the OpenAPI
schema, and one that the frames a real socket receives keep to.

The document is validated against the official JSON Schema of AsyncAPI 3.0.0, from the npm package
`@asyncapi/specs` that `make test` installs (package.json); without it the tests fail, never skip.
"""

import copy
import json
import re
import typing
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from operations.tests.jobs import jobs_run
from realtime import consumers, frames
from realtime.asyncapi import message_name, openapi_to_json_schema
from realtime.catalogue import CATALOGUE
from realtime.models import EventType
from realtime.tests.websocket import FRAME_TIMEOUT, access_token
from taskflow.http.server_daphne import CLOSE_SERVICE_RESTART
from tasks import services
from tasks.models import Membership
from tasks.tests.factories import make_task

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_SCHEMA = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
DOCUMENT_URI = "urn:taskflow:asyncapi"
ALL_FRAMES = [frame.shape for frame in frames.CLIENT_FRAMES] + list(frames.SERVER_FRAMES)


@pytest.fixture(scope="module")
def document() -> dict:
    """The document as /api/asyncapi/ serves it to an anonymous caller (building it reads no database)."""
    response = Client().get("/api/asyncapi/")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


@pytest.fixture(scope="module")
def openapi() -> dict:
    return json.loads(Client().get("/api/schema/", {"format": "json"}).content)


def official_schema() -> dict:
    if not ASYNCAPI_SCHEMA.exists():
        pytest.fail(
            f"The AsyncAPI 3.0.0 JSON Schema is not installed ({ASYNCAPI_SCHEMA.relative_to(ROOT)}): "
            "`make test` installs it, or run `npm ci` (package.json) in the repository."
        )
    return json.loads(ASYNCAPI_SCHEMA.read_text())


def closed(schema):
    """A copy of a document in which every object schema allows only the properties it names, so
    that a frame with a field the document lacks fails too."""
    if isinstance(schema, list):
        return [closed(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict) and "additionalProperties" not in schema and "oneOf" not in schema:
        result["additionalProperties"] = False
    return result


def frame_errors(document: dict, frame: dict, *, message: str) -> list[str]:
    """What is wrong with `frame` as the payload of `message`, the document's schemas kept strictly."""
    strict = closed(document)
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(strict, default_specification=DRAFT7))
    validator = Draft7Validator({"$ref": f"{DOCUMENT_URI}#/components/messages/{message}/payload"}, registry=registry)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(frame)]


def message_of(document: dict, frame: dict) -> str:
    """The message a frame is, by its `type` (and `code`, for errors); the server's when both send one."""
    candidates = [
        message_name(shape)
        for shape in frames.SERVER_FRAMES + tuple(frame.shape for frame in frames.CLIENT_FRAMES)
        if typing.get_args(typing.get_type_hints(shape)["type"]) == (frame["type"],)
        and typing.get_args(typing.get_type_hints(shape).get("code", None))
        == ((frame["code"],) if "code" in frame else ())
    ]
    assert candidates, frame
    return candidates[0]


# --- The document -----------------------------------------------------------------------------------


def test_the_document_is_valid_asyncapi_3(document):
    assert document["asyncapi"] == "3.0.0"
    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in Draft7Validator(official_schema()).iter_errors(document)
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("operations", "sendPong", "action"), "emit"),
        (("components", "schemas", "PongFrame", "type"), "a frame"),
        (("channels", "ws", "address"), 7),
    ],
)
def test_the_official_schema_finds_a_broken_document(document, path, value):
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(Draft7Validator(official_schema()).iter_errors(broken))


def test_it_is_public_json_naming_this_server(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get("/api/asyncapi/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["servers"] == {
        "taskflow": {
            "host": "testserver",
            "protocol": "ws",
            "description": "This server: the WebSocket stream is on the same host as the REST API.",
        }
    }
    assert api_client.get("/api/asyncapi/", secure=True).json()["servers"]["taskflow"]["protocol"] == "wss"


def test_info_is_the_openapi_schemas_title_and_version(document, openapi):
    assert document["info"]["title"].startswith(openapi["info"]["title"])
    assert document["info"]["version"] == openapi["info"]["version"] == settings.SPECTACULAR_SETTINGS["VERSION"]


def test_one_channel_at_ws(document):
    assert list(document["channels"]) == ["ws"]
    assert document["channels"]["ws"]["address"] == "/ws/"


def test_every_frame_is_a_message_of_the_channel(document):
    names = [message_name(shape) for shape in ALL_FRAMES]
    assert len(set(names)) == len(names) == 17
    assert list(document["channels"]["ws"]["messages"]) == names
    assert list(document["components"]["messages"]) == names
    for shape in ALL_FRAMES:
        message = document["components"]["messages"][message_name(shape)]
        assert message["description"] == " ".join(shape.__doc__.split())


def test_client_frames_are_received_and_answered_server_frames_are_sent(document):
    operations = document["operations"]
    for frame in frames.CLIENT_FRAMES:
        operation = operations[f"receive{message_name(frame.shape)}"]
        assert operation["action"] == "receive"
        assert operation["messages"] == [{"$ref": f"#/channels/ws/messages/{message_name(frame.shape)}"}]
        assert operation["reply"]["messages"] == [
            {"$ref": f"#/channels/ws/messages/{message_name(answer)}"} for answer in frame.answers
        ]
    for shape in frames.SERVER_FRAMES:
        assert operations[f"send{message_name(shape)}"]["action"] == "send"
    assert len(operations) == len(ALL_FRAMES)


def test_each_frames_fields_are_its_typeddicts(document):
    schemas = document["components"]["schemas"]
    for shape in ALL_FRAMES:
        schema = schemas[shape.__name__]
        assert list(schema["properties"]) == list(typing.get_type_hints(shape)), shape.__name__
        assert set(schema.get("required", [])) == shape.__required_keys__, shape.__name__


def test_the_event_frame_is_one_schema_per_event_type_of_the_catalogue(document):
    event_frame = document["components"]["schemas"]["EventFrame"]
    assert event_frame["discriminator"] == "event"
    assert event_frame["properties"]["event"]["enum"] == [kind.type.value for kind in CATALOGUE]
    variants = [
        document["components"]["schemas"][variant["$ref"].rsplit("/", 1)[1]] for variant in event_frame["oneOf"]
    ]
    assert [variant["properties"]["event"]["const"] for variant in variants] == [kind.type.value for kind in CATALOGUE]
    assert {kind.type.value for kind in CATALOGUE} == set(EventType.values)


def test_each_event_types_data_is_the_openapi_schemas(document, openapi):
    ours, theirs = document["components"]["schemas"], openapi["components"]["schemas"]
    mapping = theirs["Event"]["discriminator"]["mapping"]
    event_frame = ours["EventFrame"]
    for kind, variant in zip(CATALOGUE, event_frame["oneOf"], strict=True):
        data = ours[variant["$ref"].rsplit("/", 1)[1]]["properties"]["data"]
        feed_data = theirs[mapping[kind.type.value].rsplit("/", 1)[1]]["properties"]["data"]
        assert data == feed_data, kind.type  # the same component, by name...
        name = data["$ref"].rsplit("/", 1)[1]
        assert ours[name] == openapi_to_json_schema(theirs[name]), name  # ...and the same schema
        assert set(ours[name]["properties"]) == set(kind.payload.__annotations__), kind.type


def test_the_notification_frame_has_the_rest_notifications_fields(document, openapi):
    notification = openapi["components"]["schemas"]["Notification"]
    frame = document["components"]["schemas"]["NotificationFrame"]
    assert set(frames.NotificationFrame.__annotations__) == {"type", *notification["properties"]}
    assert frame["properties"]["kind"] == notification["properties"]["kind"]
    assert document["components"]["schemas"]["NotificationKindEnum"]["enum"] == [
        "task.assigned",
        "comment.mention",
        "task.due",
    ]


def test_openapi_nullable_becomes_json_schemas_null():
    assert openapi_to_json_schema({"type": "integer", "nullable": True}) == {"type": ["integer", "null"]}
    assert openapi_to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    ref = {"$ref": "#/components/schemas/RoleEnum"}
    assert openapi_to_json_schema({"allOf": [ref], "nullable": True}) == {"anyOf": [{"allOf": [ref]}, {"type": "null"}]}
    # A property named like the keyword is a property, not the keyword.
    assert openapi_to_json_schema(
        {"type": "object", "properties": {"nullable": {"type": "boolean", "nullable": True}}}
    ) == {
        "type": "object",
        "properties": {"nullable": {"type": ["boolean", "null"]}},
    }


def test_every_close_code_the_server_uses_is_described(document):
    described = {int(code) for code in re.findall(r"^\| (\d{4}) \|", document["channels"]["ws"]["description"], re.M)}
    used = {value for name, value in vars(consumers).items() if name.startswith("CLOSE_")} | {CLOSE_SERVICE_RESTART}
    assert described == used == {close.code for close in frames.CLOSE_CODES}


# --- Frames as the contract gives them, and a wrong one ---------------------------------------------


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        ("Subscribe", {"type": "subscribe", "project": 3, "since": 7}),
        ("Subscribe", {"type": "subscribe", "project": 3}),
        (
            "Subscribe",
            {
                "type": "subscribe",
                "project": 3,
                "since": 0,
                "filter": {"assignee": "me", "status": ["todo"], "labels": ["bug"]},
            },
        ),
        ("Subscribe", {"type": "subscribe", "project": 3, "filter": {"assignee": 12}}),
        ("Auth", {"type": "auth", "token": "tfp_abc"}),
        ("Unsubscribe", {"type": "unsubscribe", "project": 3}),
        ("Ping", {"type": "ping"}),
        ("PresenceUpdate", {"type": "presence", "project": 3, "task": 41}),
        ("PresenceUpdate", {"type": "presence", "project": 3, "task": None}),
        ("Skip", {"type": "skip", "project": 3, "from": 8, "to": 9}),
        (
            "Presence",
            {"type": "presence", "project": 3, "viewers": [{"user": 12, "username": "ada", "task": None}]},
        ),
        ("Reset", {"type": "reset", "project": 3}),
    ],
)
def test_the_contracts_frames_are_valid_messages(document, message, frame):
    assert frame_errors(document, frame, message=message) == []


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        ("Subscribe", {"type": "subscribe", "project": "3"}),
        ("Subscribe", {"type": "subscribe", "project": 3, "since": -1}),
        ("Subscribe", {"type": "subscribe", "project": 3, "filter": {"status": ["someday"]}}),
        ("Subscribe", {"type": "subscribe", "project": 3, "filter": {"assignee": "you"}}),
        ("Skip", {"type": "skip", "project": 3, "from": 8}),
        (
            "Event",
            {"type": "event", "seq": 1, "project": 3, "event": "task.exploded", "actor": None, "at": "x", "data": {}},
        ),
        (
            "Event",
            {
                "type": "event",
                "seq": 1,
                "project": 3,
                "event": "task.deleted",
                "actor": None,
                "at": "x",
                "data": {"id": 1},
            },
        ),
        ("AuthOk", {"type": "auth.ok", "user": {"id": 1, "username": "ada"}, "extra": True}),
    ],
)
def test_a_wrong_frame_is_not_a_valid_message(document, message, frame):
    assert frame_errors(document, frame, message=message) != []


# --- What a real socket receives --------------------------------------------------------------------


def every_event_type(client, project, member, leaver) -> None:
    """Changes through the REST API that record an event of every type of the catalogue."""
    task = client.post("/api/tasks/", {"project": project.pk, "title": "Draft", "assignee": member.pk}).json()
    client.patch(f"/api/tasks/{task['id']}/", {"title": "Final", "due_at": None})
    comment = client.post(f"/api/tasks/{task['id']}/comments/", {"body": "Looks done"}).json()
    client.patch(f"/api/comments/{comment['id']}/", {"body": "Looks done to me"})
    client.delete(f"/api/comments/{comment['id']}/")
    upload = SimpleUploadedFile("plan.txt", b"the plan", content_type="text/plain")
    attachment = client.post(f"/api/tasks/{task['id']}/attachments/", {"file": upload}, format="multipart").json()
    client.delete(f"/api/attachments/{attachment['id']}/")
    invitation = client.post(f"/api/projects/{project.pk}/invitations/", {"email": "invitee@example.com"}).json()
    client.delete(f"/api/projects/{project.pk}/invitations/{invitation['id']}/")
    client.delete(f"/api/tasks/{task['id']}/")
    client.patch(f"/api/projects/{project.pk}/", {"name": "Renamed"})
    client.patch(f"/api/projects/{project.pk}/members/{member.pk}/", {"role": "viewer"})
    client.delete(f"/api/projects/{project.pk}/members/{leaver.pk}/")


@pytest.mark.django_db(transaction=True)
async def test_the_frames_a_socket_receives_are_valid_messages(document, sockets, client, user, project, add_member):
    member, leaver = await sync_to_async(add_member)("member"), await sync_to_async(add_member)("member")
    await sync_to_async(every_event_type)(client, project, member, leaver)
    received: list[dict] = []

    async def answer(ws, frame: dict, *, count: int = 1) -> None:
        await ws.send_json_to(frame)
        for _ in range(count):
            received.append(await ws.receive_json_from(FRAME_TIMEOUT))

    owner_ws, member_ws = await sockets(), await sockets()
    await answer(owner_ws, {"type": "auth", "token": access_token(user)})
    await answer(member_ws, {"type": "auth", "token": access_token(member)})
    await answer(owner_ws, {"type": "ping"})
    latest = await sync_to_async(lambda: type(project).objects.get(pk=project.pk).event_seq)()
    await answer(owner_ws, {"type": "subscribe", "project": project.pk, "since": 0}, count=latest + 1)
    await answer(owner_ws, {"type": "subscribe", "project": project.pk + 1000})
    await answer(owner_ws, {"type": "subscribe", "project": project.pk, "since": latest + 5})
    await answer(owner_ws, {"type": "subscribe", "project": project.pk})
    await answer(owner_ws, {"type": "unsubscribe", "project": project.pk})
    await answer(owner_ws, {"type": "no such frame"})
    await answer(member_ws, {"type": "subscribe", "project": project.pk})

    membership = await Membership.objects.aget(project=project, user=member)
    await sync_to_async(services.member_remove)(project=project, actor=user, membership=membership, operator=True)
    received.append(await member_ws.receive_json_from(FRAME_TIMEOUT))

    await sync_to_async(make_task)(
        project=project, actor=user, title="Tag it", assignee=user.pk, due_at=timezone.now() + timedelta(minutes=30)
    )
    assert await sync_to_async(jobs_run)() >= 1
    received.append(await owner_ws.receive_json_from(FRAME_TIMEOUT))

    kinds = [(frame["type"], frame.get("code") or frame.get("event")) for frame in received]
    assert {event for kind, event in kinds if kind == "event"} == set(EventType.values)
    assert {kind for kind, _ in kinds} == {
        "auth.ok",
        "pong",
        "event",
        "subscribed",
        "error",
        "reset",
        "unsubscribed",
        "revoked",
        "notification",
    }
    assert ("error", "not_found") in kinds and ("error", "bad_request") in kinds
    assert_valid_messages(document, received)


def assert_valid_messages(document: dict, received: list[dict]) -> None:
    problems = [(frame, frame_errors(document, frame, message=message_of(document, frame))) for frame in received]
    assert [(frame, errors) for frame, errors in problems if errors] == []


@pytest.mark.django_db(transaction=True)
async def test_the_skip_and_presence_frames_a_socket_receives_are_valid_messages(document, signed_in, user, project):
    ws = await signed_in(user)
    await ws.send_json_to({"type": "subscribe", "project": project.pk, "filter": {"status": ["done"]}})
    subscribed = await ws.receive_json_from(FRAME_TIMEOUT)
    await sync_to_async(make_task)(project=project, actor=user, title="Not done yet")
    skip = await ws.receive_json_from(FRAME_TIMEOUT)
    await ws.send_json_to({"type": "presence", "project": project.pk, "task": None})
    presence = await ws.receive_json_from(FRAME_TIMEOUT)

    assert [subscribed["type"], skip["type"], presence["type"]] == ["subscribed", "skip", "presence"]
    assert presence["viewers"] == [{"user": user.pk, "username": user.username, "task": None}]
    assert_valid_messages(document, [skip, presence])
