"""Hostile and malformed input: always a 4xx with a JSON body, never a 500 or an HTML page."""

import json

import pytest

from tasks.models import Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

JSON = "application/json"


def post_raw(client, path: str, body: str | bytes, content_type: str = JSON):
    return client.generic("POST", path, body, content_type=content_type)


def assert_json_error(response, status: int) -> dict:
    """The response has this status and a JSON body (DRF's shapes), not an HTML page."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def task_body(project, **fields) -> dict:
    return {"project": project.pk, "title": "A task", **fields}


def task_json(project, **raw_fields: str) -> str:
    """A task body with each field's JSON text written verbatim, for what `json.dumps` never writes."""
    fields = {"project": str(project.pk), "title": '"t"', **raw_fields}
    return "{" + ", ".join(f'"{name}": {text}' for name, text in fields.items()) + "}"


# --- Malformed bodies ---------------------------------------------------------------------------


def test_malformed_json_is_400_with_json_detail(client, project):
    response = post_raw(client, "/api/tasks/", '{"project": 1, "title": ')
    body = assert_json_error(response, 400)
    assert "JSON parse error" in body["detail"]


def test_body_that_is_not_utf8_is_400(client, project):
    response = post_raw(client, "/api/tasks/", b'{"title": "\xff\xfe"}')
    assert_json_error(response, 400)


@pytest.mark.parametrize("body", ["null", "[]", '"a string"', "42"], ids=["null", "list", "string", "number"])
def test_json_that_is_not_an_object_is_400(client, project, body):
    response = post_raw(client, "/api/tasks/", body)
    assert_json_error(response, 400)


def test_deeply_nested_json_is_400(client, project):
    depth = 100_000
    response = post_raw(client, "/api/tasks/", "[" * depth + "]" * depth)
    body = assert_json_error(response, 400)
    assert "detail" in body


def test_deeply_nested_json_object_is_400(client, project):
    depth = 100_000
    response = post_raw(client, "/api/tasks/", '{"a":' * depth + "1" + "}" * depth)
    assert_json_error(response, 400)


def test_two_mebibyte_body_is_413_and_creates_nothing(client, project):
    body = json.dumps(task_body(project, description="x" * (2 * 1024 * 1024)))
    response = post_raw(client, "/api/tasks/", body)
    assert_json_error(response, 413)
    assert not Task.objects.exists()


def test_oversized_patch_is_413_and_leaves_the_task_alone(client, project):
    task = make_task(project=project, title="Small")
    body = json.dumps({"description": "x" * (2 * 1024 * 1024)})
    response = client.generic("PATCH", f"/api/tasks/{task.pk}/", body, content_type=JSON)
    assert_json_error(response, 413)
    task.refresh_from_db()
    assert (task.description, task.version) == ("", 1)


def test_text_plain_body_is_415(client, project):
    response = post_raw(client, "/api/tasks/", "title=Hello", content_type="text/plain")
    body = assert_json_error(response, 415)
    assert "text/plain" in body["detail"]


def test_form_encoded_body_is_415(client, project):
    response = post_raw(client, "/api/tasks/", "title=Hello", content_type="application/x-www-form-urlencoded")
    assert_json_error(response, 415)


# --- Field values -------------------------------------------------------------------------------


def test_ten_thousand_character_title_is_400_on_title(client, project):
    response = client.post("/api/tasks/", task_body(project, title="t" * 10_000), format="json")
    body = assert_json_error(response, 400)
    assert "title" in body
    assert not Task.objects.exists()


def test_title_with_nul_byte_is_400_on_title(client, project):
    response = client.post("/api/tasks/", task_body(project, title="before\x00after"), format="json")
    body = assert_json_error(response, 400)
    assert "title" in body


def test_description_with_nul_byte_is_400_on_description(client, project):
    response = client.post("/api/tasks/", task_body(project, description="a\x00b"), format="json")
    body = assert_json_error(response, 400)
    assert "description" in body


def test_label_with_nul_byte_is_400_on_labels(client, project):
    response = client.post("/api/tasks/", task_body(project, labels=["ok", "bad\x00"]), format="json")
    body = assert_json_error(response, 400)
    assert "labels" in body


def test_title_with_lone_surrogate_is_400_on_title(client, project):
    # Written as the JSON escape a client would send; Python's json module decodes it to a lone surrogate.
    response = post_raw(client, "/api/tasks/", task_json(project, title='"broken \\ud800 text"'))
    assert "title" in assert_json_error(response, 400)
    assert not Task.objects.exists()


def test_project_name_with_lone_surrogate_is_400(client):
    response = post_raw(client, "/api/projects/", '{"name": "\\udfff"}')
    assert "name" in assert_json_error(response, 400)


def test_escaped_surrogate_pair_is_accepted_as_one_character(client, project):
    response = post_raw(client, "/api/tasks/", task_json(project, title='"go \\ud83d\\ude80"'))
    assert response.status_code == 201
    assert response.json()["title"] == "go 🚀"


def test_emoji_title_round_trips_exactly(client, project):
    created = client.post("/api/tasks/", task_body(project, title="Ship it 🚀✅"), format="json")
    assert created.status_code == 201
    fetched = client.get(f"/api/tasks/{created.json()['id']}/")
    assert fetched.json()["title"] == "Ship it 🚀✅"


def test_emoji_in_description_labels_and_project_name_round_trip_exactly(client, project):
    text = "Family 👨‍👩‍👧‍👦, flags 🇳🇱, music 𝄞, CJK 漢字"
    created = client.post("/api/tasks/", task_body(project, description=text, labels=["🔥 hot", "🐛"]), format="json")
    assert created.status_code == 201
    fetched = client.get(f"/api/tasks/{created.json()['id']}/").json()
    assert (fetched["description"], fetched["labels"]) == (text, ["🔥 hot", "🐛"])
    renamed = client.patch(f"/api/projects/{project.pk}/", {"name": "Launch 🚀"}, format="json")
    assert renamed.status_code == 200
    assert client.get(f"/api/projects/{project.pk}/").json()["name"] == "Launch 🚀"


def test_search_finds_emoji_title(client, project):
    make_task(project=project, title="Ship it 🚀✅")
    make_task(project=project, title="Plain")
    response = client.get("/api/tasks/", {"search": "🚀"})
    assert [task["title"] for task in response.json()["results"]] == ["Ship it 🚀✅"]


def test_title_of_two_hundred_emoji_is_accepted(client, project):
    # The limit counts characters, not bytes: 200 four-byte characters fit.
    response = client.post("/api/tasks/", task_body(project, title="🚀" * 200), format="json")
    assert response.status_code == 201
    assert client.get(f"/api/tasks/{response.json()['id']}/").json()["title"] == "🚀" * 200


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_position_is_400(client, project, constant):
    response = post_raw(client, "/api/tasks/", task_json(project, position=constant))
    assert_json_error(response, 400)
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    "number", ["1e999", "-1e999", "1" + "0" * 400], ids=["overflow", "negative-overflow", "huge-int"]
)
def test_position_too_large_for_a_float_is_400(client, project, number):
    response = post_raw(client, "/api/tasks/", task_json(project, position=number))
    assert "position" in assert_json_error(response, 400)


def test_number_with_more_digits_than_python_parses_is_400(client, project):
    response = post_raw(client, "/api/tasks/", task_json(project, position="9" * 5000))
    assert_json_error(response, 400)


def test_due_at_that_is_not_a_date_is_400_on_due_at(client, project):
    response = client.post("/api/tasks/", task_body(project, due_at="not-a-date"), format="json")
    assert "due_at" in assert_json_error(response, 400)


@pytest.mark.parametrize("due_at", ["2024-02-30T10:00:00Z", "99999-01-01T00:00:00Z", "0000-01-01T00:00:00Z"])
def test_due_at_out_of_calendar_is_400(client, project, due_at):
    response = client.post("/api/tasks/", task_body(project, due_at=due_at), format="json")
    assert "due_at" in assert_json_error(response, 400)


def test_assignee_id_beyond_64_bits_is_400_on_assignee(client, project):
    response = client.post("/api/tasks/", task_body(project, assignee=10**30), format="json")
    assert "assignee" in assert_json_error(response, 400)


def test_project_id_beyond_64_bits_is_400_on_project(client, project):
    response = client.post("/api/tasks/", {"project": 10**30, "title": "t"}, format="json")
    assert "project" in assert_json_error(response, 400)


def test_project_id_just_beyond_64_bits_is_400_on_project(client, project):
    response = client.post("/api/tasks/", {"project": 2**63, "title": "t"}, format="json")
    assert "project" in assert_json_error(response, 400)


def test_member_user_id_beyond_64_bits_is_400_on_user(client, project):
    response = client.post(f"/api/projects/{project.pk}/members/", {"user": 10**30}, format="json")
    assert "user" in assert_json_error(response, 400)


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", {"nested": "object"}),
        ("title", ["list"]),
        ("status", ["done"]),
        ("priority", 10**30),
        ("labels", "not-a-list"),
        ("labels", [{"a": 1}]),
        ("labels", [["nested"]]),
        ("position", "high"),
        ("assignee", "me"),
        ("due_at", 12345),
    ],
)
def test_value_of_the_wrong_json_type_is_400_on_its_field(client, project, field, value):
    response = client.post("/api/tasks/", task_body(project, **{field: value}), format="json")
    assert field in assert_json_error(response, 400)


# --- Query parameters ---------------------------------------------------------------------------


def test_nul_byte_in_search_is_never_a_500(client, project):
    make_task(project=project, title="Plain")
    response = client.get("/api/tasks/", {"search": "a\x00b"})
    assert response.status_code in (200, 400)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "params",
    [
        {"project": "abc"},
        {"project": str(10**30)},
        {"assignee": str(10**30)},
        {"assignee": "someone"},
        {"status": "finished"},
        {"priority": "critical"},
        {"due_before": "2024-13-45"},
        {"due_after": "yesterday"},
        {"updated_since": "garbage"},
        {"ordering": "password"},
        {"search": "x" * 1000},
        {"label": "l" * 1000},
        {"label": "a\x00b"},
        {"due_before": "a\x00b"},
    ],
    ids=lambda params: next(iter(params)),
)
def test_invalid_filter_value_is_400(client, project, params):
    response = client.get("/api/tasks/", params)
    assert_json_error(response, 400)


# Characters that str.isdigit() accepts and int() refuses, or that int() reads as digits although
# they are not ASCII: ids are ASCII digits only.
NOT_ASCII_DIGITS = ["\u00b2", "\u00b9", "\u2460", "\u0663", "\uff11"]


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
@pytest.mark.parametrize("name", ["assignee", "project"])
def test_id_filter_of_digits_that_are_not_ascii_is_400(client, project, name, value):
    body = assert_json_error(client.get("/api/tasks/", {name: value}), 400)
    assert name in body


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_member_reference_of_digits_that_are_not_ascii_is_400_on_user(client, project, value):
    response = client.post(f"/api/projects/{project.pk}/members/", {"user": value, "role": "member"}, format="json")
    assert "user" in assert_json_error(response, 400)


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_if_match_of_digits_that_are_not_ascii_is_412_and_changes_nothing(client, project, value):
    task = make_task(project=project)
    response = client.patch(f"/api/tasks/{task.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH=f'"{value}"')
    assert response.status_code == 412
    task.refresh_from_db()
    assert (task.title, task.version) != ("x", 2)


# --- Ids in paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks/abc/",
        "/api/tasks/1x/",
        "/api/tasks/-1/",
        "/api/tasks/1.5/",
        "/api/projects/1x/members/",
        "/api/projects/abc/",
        "/api/projects/abc/events/",
        "/api/tasks/99999999999999999999999/",
        "/api/projects/99999999999999999999999/members/",
        "/api/projects/99999999999999999999999/events/",
        "/api/tasks/999999999999999999/",
        "/api/projects/999999999999999999/",
    ],
)
def test_id_that_cannot_exist_is_json_404(client, project, path):
    body = assert_json_error(client.get(path), 404)
    assert set(body) == {"detail"}


def test_patch_with_non_numeric_id_is_json_404(client, project):
    response = client.patch("/api/tasks/abc/", {"title": "x"}, format="json")
    assert_json_error(response, 404)


def test_member_path_with_huge_user_id_is_json_404(client, project):
    response = client.patch(
        f"/api/projects/{project.pk}/members/99999999999999999999999/", {"role": "viewer"}, format="json"
    )
    assert_json_error(response, 404)


def test_unrouted_api_path_is_json_404_with_detail(client):
    body = assert_json_error(client.get("/api/nothing/here/"), 404)
    assert set(body) == {"detail"}


def test_unrouted_api_path_is_json_404_for_anonymous_callers(api_client):
    assert_json_error(api_client.post("/api/nothing/here/", {}, format="json"), 404)


def test_unrouted_api_path_is_json_404_in_debug_mode(client, settings):
    settings.DEBUG = True
    assert_json_error(client.get("/api/nothing/here/"), 404)


def test_if_match_with_huge_version_is_412_not_500(client, project):
    task = make_task(project=project)
    response = client.patch(
        f"/api/tasks/{task.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH='"99999999999999999999999"'
    )
    assert response.status_code == 412
    assert response.json()["version"] == 1


# --- Pagination ---------------------------------------------------------------------------------


@pytest.fixture
def many_tasks(project):
    """201 tasks, one more than the largest page; bulk-created since their events do not matter here."""
    Task.objects.bulk_create(
        Task(project=project, created_by=project.owner, title=f"Task {index}", position=index) for index in range(201)
    )


@pytest.mark.parametrize("page_size", ["-1", "0", "abc", "", "1.5", "null", "\u00b2", "\u0663"])
def test_unusable_page_size_is_a_400_naming_it(client, many_tasks, page_size):
    response = client.get("/api/tasks/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["A positive integer is required."]}


@pytest.mark.parametrize(
    "path", ["/api/projects/", "/api/projects/{project}/members/", "/api/projects/{project}/webhooks/"]
)
def test_every_list_refuses_an_unusable_page_size(client, project, path):
    response = client.get(path.format(project=project.pk), {"page_size": "null"})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["A positive integer is required."]}


def test_page_size_absent_gives_the_default_50(client, many_tasks):
    response = client.get("/api/tasks/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 50


@pytest.mark.parametrize("page_size", [str(10**9), str(10**30), "201"])
def test_page_size_over_200_is_capped_at_200(client, many_tasks, page_size):
    response = client.get("/api/tasks/", {"page_size": page_size})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 200
    assert body["next"] is not None


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", str(10**30)])
def test_unusable_page_is_json_404(client, project, page):
    make_task(project=project)
    body = assert_json_error(client.get("/api/tasks/", {"page": page}), 404)
    assert "detail" in body


def test_unusable_page_of_members_is_json_404(client, project):
    assert_json_error(client.get(f"/api/projects/{project.pk}/members/", {"page": str(10**30)}), 404)
