"""The OpenAPI schema at /api/schema/: a valid document that names every response each operation
can give (with its headers) and each event type's data, and that a live server keeps to."""

import json
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from accounts.tests.test_idempotency import ProjectLock, claim_is_held, in_thread, keyed
from realtime.catalogue import CATALOGUE
from realtime.models import Event, EventType
from realtime.tests.servers import TaskFlowServer, api, demo_database_prepare, wait_until

SCHEMA_URI = "urn:taskflow:openapi"

TASK = "/api/tasks/{id}/"
TASKS = "/api/tasks/"
EVENTS = "/api/projects/{project_id}/events/"
AUTH_THROTTLED = [
    "/api/auth/register/",
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/auth/token/verify/",
    "/api/auth/password/reset/",
    "/api/auth/password/reset/confirm/",
]
# Every endpoint but these needs a signed-in caller (API.md); the API root is public too.
PUBLIC = {*AUTH_THROTTLED, "/api/auth/logout/", "/api/"}
# Signed in by the browser session alone: no bearer challenge, so 403 (not 401) without one.
SESSION_TOKEN = "/api/auth/session/token/"


@pytest.fixture(scope="module")
def schema() -> dict:
    """The schema as /api/schema/ serves it (building it reads no database)."""
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema: dict):
    """(method, path, operation) of every operation in the schema."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


def responses(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]["responses"]


def body_schema(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def component(schema: dict, reference: str) -> dict:
    """The component a `$ref` names."""
    return schema["components"]["schemas"][reference.rsplit("/", 1)[1]]


def header_parameters(schema: dict, method: str, path: str) -> set[str]:
    parameters = schema["paths"][path][method.lower()].get("parameters", [])
    return {parameter["name"] for parameter in parameters if parameter["in"] == "header"}


def pointer(*parts: str) -> str:
    """A JSON pointer into the schema, each part escaped (`/` in paths and media types)."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def validator(schema: dict, location: str) -> OAS30Validator:
    """A validator of instances of the schema at `location` (a JSON pointer into the document),
    resolving the references it makes within the document."""
    registry = Registry().with_resource(SCHEMA_URI, Resource.from_contents(schema, default_specification=DRAFT4))
    return OAS30Validator({"$ref": f"{SCHEMA_URI}#{location}"}, registry=registry)


# --- The document -------------------------------------------------------------------------------


def test_schema_is_a_valid_openapi_document(schema):
    validate(schema)  # raises, naming the first problem


def test_error_bodies_are_components(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert components["ValidationError"]["additionalProperties"]["oneOf"][0] == {
        "type": "array",
        "items": {"type": "string"},
    }


# --- Responses of every operation ---------------------------------------------------------------


def test_every_operation_that_needs_a_login_documents_401(schema):
    missing = [
        (method, path)
        for method, path, operation in operations(schema)
        if path not in {*PUBLIC, SESSION_TOKEN} and "401" not in operation["responses"]
    ]
    assert missing == []


def test_the_session_token_endpoint_documents_403_for_no_session_and_no_401(schema):
    answers = responses(schema, "POST", SESSION_TOKEN)
    assert "401" not in answers
    assert "session" in answers["403"]["description"]
    assert schema["paths"][SESSION_TOKEN]["post"]["security"] == [{"browserSession": []}]


def test_401_names_the_bearer_scheme_in_www_authenticate(schema):
    assert "WWW-Authenticate" in responses(schema, "GET", TASKS)["401"]["headers"]


def test_register_and_the_api_root_document_no_401(schema):
    assert "401" not in responses(schema, "POST", "/api/auth/register/")
    assert "401" not in responses(schema, "GET", "/api/")


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/token/verify/"])
def test_token_endpoints_document_the_401_they_answer_for_bad_credentials(schema, path):
    assert body_schema(responses(schema, "POST", path)["401"]) == ref("Error")


def test_logout_documents_401_for_a_bad_refresh_token(schema):
    assert "401" in responses(schema, "POST", "/api/auth/logout/")


def test_every_operation_with_an_id_in_its_path_documents_404(schema):
    missing = [
        (method, path)
        for method, path, operation in operations(schema)
        if "{" in path and "404" not in operation["responses"]
    ]
    assert missing == []


def test_paged_lists_document_404_for_a_page_that_is_no_page_number(schema):
    assert "404" in responses(schema, "GET", "/api/projects/")
    assert "404" in responses(schema, "GET", TASKS)


def test_every_operation_with_a_body_documents_400_and_413(schema):
    missing = [
        (method, path, code)
        for method, path, operation in operations(schema)
        if "requestBody" in operation
        for code in ("400", "413")
        if code not in operation["responses"]
    ]
    assert missing == []


def test_400_is_field_errors_or_detail(schema):
    assert body_schema(responses(schema, "POST", TASKS)["400"]) == {"oneOf": [ref("ValidationError"), ref("Error")]}


def test_every_signed_in_write_documents_403(schema):
    missing = [
        (method, path)
        for method, path, operation in operations(schema)
        if method != "GET" and path not in PUBLIC and "403" not in operation["responses"]
    ]
    assert missing == []


def test_reads_document_403_only_where_a_role_can_refuse_them(schema):
    assert "403" not in responses(schema, "GET", TASK)
    assert "403" not in responses(schema, "GET", "/api/projects/{id}/")
    assert "403" in responses(schema, "GET", "/api/projects/{project_id}/webhooks/")


@pytest.mark.parametrize("path", AUTH_THROTTLED)
def test_throttled_auth_endpoints_document_429_with_retry_after(schema, path):
    response = responses(schema, "POST", path)["429"]
    assert body_schema(response) == ref("Error")
    assert response["headers"]["Retry-After"]["required"] is True


def test_unthrottled_endpoints_document_no_429(schema):
    assert "429" not in responses(schema, "POST", TASKS)
    assert "429" not in responses(schema, "POST", "/api/auth/logout/")


def test_member_removal_documents_400_for_the_owner(schema):
    assert "400" in responses(schema, "DELETE", "/api/projects/{project_id}/members/{user_id}/")


# --- Idempotency-Key ----------------------------------------------------------------------------

# Writes that ignore the key: anonymous ones, and those whose answer is a new token.
UNKEYED_WRITES = {(method, path) for method in ("POST",) for path in PUBLIC} | {
    ("POST", "/api/auth/tokens/"),
    ("POST", SESSION_TOKEN),
}


def test_every_signed_in_write_takes_an_idempotency_key_and_documents_409_and_422(schema):
    missing = [
        (method, path, what)
        for method, path, operation in operations(schema)
        if method != "GET" and (method, path) not in UNKEYED_WRITES
        for what in ("Idempotency-Key", "400", "409", "422")
        if what not in header_parameters(schema, method, path) | set(operation["responses"])
    ]
    assert missing == []


def test_the_answers_of_keyed_writes_document_idempotency_replayed(schema):
    for method, path, code in [("POST", TASKS, "201"), ("PATCH", TASK, "412"), ("DELETE", TASK, "204")]:
        assert "Idempotency-Replayed" in responses(schema, method, path)[code]["headers"]
    assert "Idempotency-Replayed" not in responses(schema, "POST", TASKS)["422"].get("headers", {})


def test_reads_anonymous_writes_and_token_creation_take_no_idempotency_key(schema):
    for method, path, operation in operations(schema):
        if method == "GET" or (method, path) in UNKEYED_WRITES:
            assert "Idempotency-Key" not in header_parameters(schema, method, path), (method, path)
            assert "422" not in operation["responses"], (method, path)


def test_the_idempotency_key_header_is_1_to_255_visible_ascii_characters(schema):
    [key] = [parameter for parameter in schema["paths"][TASKS]["post"]["parameters"] if parameter["in"] == "header"]
    assert (key["name"], key["required"]) == ("Idempotency-Key", False)
    assert (key["schema"]["minLength"], key["schema"]["maxLength"], key["schema"]["pattern"]) == (1, 255, "^[!-~]+$")


# --- Tasks: versions, ETags and the list's seq --------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_task_writes_document_412_with_the_current_task_and_its_etag(schema, method):
    response = responses(schema, method, TASK)["412"]
    body = body_schema(response)
    if method == "PATCH":
        # The current task, or with `Prefer: merge` the fields that conflict with the current task.
        assert component(schema, body["$ref"]) == {"oneOf": [ref("Task"), ref("TaskMergeConflict")]}
    else:
        assert body == ref("Task")
    assert response["headers"]["ETag"]["required"] is True
    assert "If-Match" in header_parameters(schema, method, TASK)


def test_task_patch_documents_prefer_and_preference_applied(schema):
    assert "Prefer" in header_parameters(schema, "PATCH", TASK)
    assert "Prefer" not in header_parameters(schema, "PUT", TASK)
    applied = responses(schema, "PATCH", TASK)["200"]["headers"]["Preference-Applied"]
    assert applied.get("required", False) is False
    conflict = schema["components"]["schemas"]["TaskMergeConflict"]
    assert conflict["required"] == ["conflicts", "current", "detail"]


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("GET", TASK, "200"), ("PATCH", TASK, "200"), ("PUT", TASK, "200"), ("POST", TASKS, "201")],
)
def test_task_responses_document_the_etag(schema, method, path, code):
    assert responses(schema, method, path)[code]["headers"]["ETag"]["required"] is True


def test_task_detail_documents_304_for_if_none_match(schema):
    response = responses(schema, "GET", TASK)["304"]
    assert "content" not in response
    assert response["headers"]["ETag"]["required"] is True
    assert "If-None-Match" in header_parameters(schema, "GET", TASK)


def test_task_list_documents_304_with_its_etag_and_event_seq(schema):
    response = responses(schema, "GET", TASKS)["304"]
    assert "content" not in response
    assert {name for name, header in response["headers"].items() if header.get("required")} == {"ETag", "X-Event-Seq"}
    assert "If-None-Match" in header_parameters(schema, "GET", TASKS)


def test_task_list_documents_its_etag_and_event_seq_as_sometimes_sent(schema):
    # Only a list filtered by one project carries them.
    headers = responses(schema, "GET", TASKS)["200"]["headers"]
    assert set(headers) == {"ETag", "X-Event-Seq"}
    assert not any(header.get("required") for header in headers.values())
    assert headers["X-Event-Seq"]["schema"]["type"] == "integer"


def test_task_list_filter_by_project_takes_an_integer_id(schema):
    [project] = [
        parameter for parameter in schema["paths"][TASKS]["get"]["parameters"] if parameter["name"] == "project"
    ]
    assert (project["in"], project["schema"]["type"], project["schema"]["minimum"]) == ("query", "integer", 1)


def test_task_put_does_not_ask_for_the_project(schema):
    body = component(
        schema, schema["paths"][TASK]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert "project" not in body["properties"]
    assert body["required"] == ["title"]


# --- The events feed ----------------------------------------------------------------------------


def test_events_feed_documents_410_for_a_since_older_than_the_log(schema):
    assert body_schema(responses(schema, "GET", EVENTS)["410"]) == ref("Error")


def test_events_feed_documents_its_query_bounds(schema):
    parameters = {parameter["name"]: parameter["schema"] for parameter in schema["paths"][EVENTS]["get"]["parameters"]}
    assert (parameters["since"]["minimum"], parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (
        0,
        1,
        1000,
    )


def test_every_event_type_has_a_component_chosen_by_its_type(schema):
    event = schema["components"]["schemas"]["Event"]
    assert event["discriminator"]["propertyName"] == "type"
    assert set(event["discriminator"]["mapping"]) == set(EventType.values)


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (EventType.TASK_CREATED, "Task"),
        (EventType.TASK_UPDATED, "Task"),
        (EventType.TASK_DELETED, "TaskDeletedData"),
        (EventType.PROJECT_UPDATED, "ProjectEventData"),
        (EventType.MEMBER_ADDED, "Member"),
        (EventType.MEMBER_UPDATED, "Member"),
        (EventType.MEMBER_REMOVED, "Member"),
        (EventType.COMMENT_CREATED, "Comment"),
        (EventType.COMMENT_UPDATED, "Comment"),
        (EventType.COMMENT_DELETED, "Comment"),
        (EventType.ATTACHMENT_ADDED, "Attachment"),
        (EventType.ATTACHMENT_REMOVED, "Attachment"),
        (EventType.INVITATION_CREATED, "Invitation"),
        (EventType.INVITATION_REVOKED, "Invitation"),
    ],
)
def test_each_event_type_documents_its_data(schema, event_type, data):
    components = schema["components"]["schemas"]
    component = components[
        schema["components"]["schemas"]["Event"]["discriminator"]["mapping"][event_type].rsplit("/", 1)[1]
    ]
    assert component["properties"]["data"] == ref(data)
    assert components[component["properties"]["type"]["$ref"].rsplit("/", 1)[1]]["enum"] == [event_type]


def test_each_event_types_data_has_the_fields_of_its_payload_in_the_catalogue(schema):
    mapping = schema["components"]["schemas"]["Event"]["discriminator"]["mapping"]
    for kind in CATALOGUE:
        data = component(schema, component(schema, mapping[kind.type])["properties"]["data"]["$ref"])
        assert set(data["properties"]) == set(data["required"]) == set(kind.payload.__annotations__), kind.type


def test_deleted_task_data_is_its_id_and_project(schema):
    data = schema["components"]["schemas"]["TaskDeletedData"]
    assert set(data["properties"]) == set(data["required"]) == {"id", "project"}


def test_project_event_data_has_no_role_or_event_seq(schema):
    properties = schema["components"]["schemas"]["ProjectEventData"]["properties"]
    assert {"id", "name", "description", "owner"} <= set(properties)
    assert not {"role", "event_seq"} & set(properties)


def test_a_feed_with_every_event_type_matches_the_schema(schema, client, project, add_member):
    member = add_member("member")
    task = client.post(TASKS, {"project": project.pk, "title": "Draft"}).json()
    client.patch(f"/api/tasks/{task['id']}/", {"title": "Final"})
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
    client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")

    body = client.get(f"/api/projects/{project.pk}/events/").json()

    assert {event["type"] for event in body["events"]} == set(EventType.values)
    assert [
        error.message for error in validator(schema, pointer("components", "schemas", "EventPage")).iter_errors(body)
    ] == []


# --- Responses the fuzzer does not reach, checked against the schema ----------------------------


def assert_documented(schema: dict, method: str, path: str, response) -> None:
    """The response's status is documented for the operation, with the headers documented as
    always sent, and a body that validates against the documented one (none where none is)."""
    code = str(response.status_code)
    documented = responses(schema, method, path).get(code)
    assert documented is not None, f"{code} is not documented for {method} {path}"
    required = {name for name, header in documented.get("headers", {}).items() if header.get("required")}
    assert {name for name in required if name not in response} == set()
    if "content" not in documented:
        assert response.content == b""
        return
    body = validator(
        schema, pointer("paths", path, method.lower(), "responses", code, "content", "application/json", "schema")
    )
    assert [error.message for error in body.iter_errors(response.json())] == []


def test_keyed_repeats_and_conflicts_are_the_documented_answers(schema, client, project):
    def keyed(method: str, path: str, data=None, key: str = "schema-key"):
        return getattr(client, method)(path, data, format="json", HTTP_IDEMPOTENCY_KEY=key)

    task = keyed("post", TASKS, {"project": project.pk, "title": "Draft"}).json()
    replayed = keyed("post", TASKS, {"project": project.pk, "title": "Draft"})
    conflict = keyed("post", TASKS, {"project": project.pk, "title": "Another"})
    malformed = keyed("delete", f"/api/tasks/{task['id']}/", key="not visible")
    deleted = keyed("delete", f"/api/tasks/{task['id']}/", key="delete-key")
    deleted_again = keyed("delete", f"/api/tasks/{task['id']}/", key="delete-key")

    assert [answer.status_code for answer in (replayed, conflict, malformed, deleted_again)] == [201, 422, 400, 204]
    assert (replayed["Idempotency-Replayed"], deleted_again["Idempotency-Replayed"]) == ("true", "true")
    assert_documented(schema, "POST", TASKS, replayed)
    assert_documented(schema, "POST", TASKS, conflict)
    assert_documented(schema, "DELETE", TASK, malformed)
    assert_documented(schema, "DELETE", TASK, deleted)
    assert_documented(schema, "DELETE", TASK, deleted_again)


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_runs_is_the_documented_409(schema, client_for, user, project):
    if connection.vendor != "mysql":
        pytest.skip("a request held by a row lock needs MySQL; this runs in the MySQL + Redis pass")
    body = {"project": project.pk, "title": "Draft"}
    with ProjectLock(project):
        first, _ = in_thread(lambda: keyed(client_for(user), "POST", TASKS, body, key="running-key"))
        wait_until(lambda: claim_is_held("running-key"), timeout=10, what="the first request's claim")
        response = keyed(client_for(user), "POST", TASKS, body, key="running-key")
    first.join(timeout=30)

    assert response.status_code == 409
    assert_documented(schema, "POST", TASKS, response)


def test_a_throttled_token_request_is_the_documented_429(schema, api_client, settings, user):
    settings.TASKFLOW_AUTH_RATE = "1/min"
    api_client.post("/api/auth/token/", {"username": user.username, "password": "wrong"})

    response = api_client.post("/api/auth/token/", {"username": user.username, "password": "wrong"})

    assert response.status_code == 429
    assert_documented(schema, "POST", "/api/auth/token/", response)


def test_a_stale_if_match_is_the_documented_412(schema, client, project):
    task = client.post(TASKS, {"project": project.pk, "title": "Draft"}).json()
    client.patch(f"/api/tasks/{task['id']}/", {"title": "Final"})

    response = client.patch(f"/api/tasks/{task['id']}/", {"title": "Stale"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert_documented(schema, "PATCH", TASK, response)


def test_a_merge_and_its_conflict_are_the_documented_200_and_412(schema, client, project):
    task = client.post(TASKS, {"project": project.pk, "title": "Draft"}).json()
    client.patch(f"/api/tasks/{task['id']}/", {"title": "Final"})

    merged = client.patch(f"/api/tasks/{task['id']}/", {"status": "done"}, HTTP_IF_MATCH='"1"', HTTP_PREFER="merge")
    conflict = client.patch(f"/api/tasks/{task['id']}/", {"title": "Stale"}, HTTP_IF_MATCH='"1"', HTTP_PREFER="merge")

    assert (merged.status_code, merged["Preference-Applied"]) == (200, "merge")
    assert (conflict.status_code, conflict.json()["conflicts"]) == (412, ["title"])
    assert_documented(schema, "PATCH", TASK, merged)
    assert_documented(schema, "PATCH", TASK, conflict)


def test_a_current_etag_is_the_documented_304_for_the_task_and_its_list(schema, client, project):
    task = client.post(TASKS, {"project": project.pk, "title": "Draft"})
    detail = client.get(f"/api/tasks/{task.json()['id']}/", HTTP_IF_NONE_MATCH=task["ETag"])
    page = client.get(TASKS, {"project": project.pk})
    unchanged = client.get(TASKS, {"project": project.pk}, HTTP_IF_NONE_MATCH=page["ETag"])

    assert (detail.status_code, unchanged.status_code) == (304, 304)
    assert_documented(schema, "GET", TASK, detail)
    assert_documented(schema, "GET", TASKS, page)
    assert_documented(schema, "GET", TASKS, unchanged)


def test_a_since_older_than_the_log_is_the_documented_410(schema, client, project):
    client.post(TASKS, {"project": project.pk, "title": "Draft"})
    Event.objects.filter(project=project, seq=1).delete()

    response = client.get(f"/api/projects/{project.pk}/events/")

    assert response.status_code == 410
    assert_documented(schema, "GET", EVENTS, response)


# --- The live server keeps to the schema (schemathesis) -----------------------------------------

# Every check but positive_data_acceptance, which expects any input the schema allows to succeed:
# the contract answers 400 to well-formed input that breaks a rule (a taken username, a weak
# password, a second owner, an assignee who is not a member). The seed makes a failure
# reproducible (`st run ... --seed`). Path ids mostly name the demo data, so that nested routes
# are reached, and otherwise anything the schema allows (404s). The demo member and viewer may be
# removed on the way; password change and logout cannot happen (the fuzzer never guesses the
# demo password or holds a refresh token), so every operation is fuzzed.
SCHEMATHESIS_CONFIG = """
seed = 20261202
workers = 1

[checks]
positive_data_acceptance.enabled = false

[generation]
max-examples = 10
no-shrink = true
database = "none"

[dictionaries.project]
values = ["{project}"]
[dictionaries.webhook]
values = ["{webhook}"]
[dictionaries.object]
values = [{objects}]
[dictionaries.member]
values = ["{member}", "{viewer}"]

[parameters]
project_id = {{ dictionary = "project", probability = 0.8 }}
webhook_id = {{ dictionary = "webhook", probability = 0.8 }}
id = {{ dictionary = "object", probability = 0.5 }}
user_id = {{ dictionary = "member", probability = 0.5 }}
"""


class DemoServer(TaskFlowServer):
    """TaskFlow on a SQLite file of its own with the demo data (`manage.py seed_demo`), and no worker:
    nothing ever delivers the webhooks a fuzzer creates, whatever their made-up URLs name."""

    def __init__(self, directory) -> None:
        super().__init__(
            server="daphne",
            workers=0,
            database_url=f"sqlite:///{directory / 'db.sqlite3'}",
            redis_url="",
            channel_prefix="openapi",
            JWT_ACCESS_MINUTES="30",
        )

    def start(self) -> None:
        demo_database_prepare(self.env)
        super().start()


@pytest.fixture
def demo_server(tmp_path):
    server = DemoServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_live_server_keeps_to_its_schema(demo_server, tmp_path):
    # The demo admin: sees and changes nearly everything (an owner could delete the demo project).
    status, tokens = api(
        demo_server, "POST", "/api/auth/token/", {"username": "demo-admin", "password": "taskflow-demo"}
    )
    assert status == 200
    access = tokens["access"]
    [project] = api(demo_server, "GET", "/api/projects/", token=access)[1]["results"]
    tasks = api(demo_server, "GET", f"/api/tasks/?project={project['id']}", token=access)[1]["results"]
    members = api(demo_server, "GET", f"/api/projects/{project['id']}/members/", token=access)[1]["results"]
    roles = {member["role"]: member["user"] for member in members}
    # No worker runs, so this URL is never called.
    status, webhook = api(
        demo_server, "POST", f"/api/projects/{project['id']}/webhooks/", {"url": "http://127.0.0.1:9/"}, token=access
    )
    assert status == 201
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        SCHEMATHESIS_CONFIG.format(
            project=project["id"],
            webhook=webhook["id"],
            # `id` is a project's in /api/projects/{id}/ and a task's in /api/tasks/{id}/.
            objects=", ".join(f'"{pk}"' for pk in [project["id"], *(task["id"] for task in tasks)]),
            member=roles["member"],
            viewer=roles["viewer"],
        )
    )

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{demo_server.http}/api/schema/?format=json",
            "--header",
            f"Authorization: Bearer {access}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert result.returncode == 0, (
        f"schemathesis found problems:\n{result.stdout}\n{result.stderr}\n{demo_server.log()}"
    )
