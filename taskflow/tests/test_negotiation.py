"""Content negotiation: the JSON shortcut answers as DRF would, and everything else is DRF's."""

import json

import pytest

from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(project):
    return make_task(project=project, title="Negotiated")


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        ("application/json", "", "application/json"),
        ("application/json; indent=2", "", "application/json"),
        ("*/*", "", "application/json"),
        ("text/html", "", "text/html; charset=utf-8"),  # the browsable API
        ("text/html", "?format=api", "text/html; charset=utf-8"),
        ("application/json", "?format=json", "application/json"),
    ],
)
def test_the_response_type_follows_accept_and_format(client, task, accept, query, expected):
    response = client.get(f"/api/tasks/{task.pk}/{query}", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == expected


@pytest.mark.parametrize(
    ("accept", "query"),
    [("application/xml", ""), ("application/json", "?format=api")],  # a format narrows what Accept may pick
)
def test_an_unacceptable_type_is_406(client, task, accept, query):
    response = client.get(f"/api/tasks/{task.pk}/{query}", HTTP_ACCEPT=accept)
    assert response.status_code == 406


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_json_bodies_are_parsed_whatever_their_parameters(client, task, content_type):
    response = client.generic(
        "PATCH", f"/api/tasks/{task.pk}/", json.dumps({"title": "Parsed"}), content_type=content_type
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Parsed"


def test_a_body_of_another_type_is_415_and_changes_nothing(client, task):
    response = client.generic("PATCH", f"/api/tasks/{task.pk}/", "title=Form", content_type="text/plain")
    assert response.status_code == 415
    task.refresh_from_db()
    assert task.title == "Negotiated"
