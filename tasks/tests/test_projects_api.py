"""Projects API: `/api/projects/` and `/api/projects/{id}/`."""

import pytest

from accounts.tests.factories import UserFactory
from tasks import services
from tasks.models import Membership, Project, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


PROJECT_FIELDS = {"id", "name", "description", "owner", "role", "event_seq", "created_at", "updated_at"}


def project_url(project) -> str:
    return f"/api/projects/{project.pk}/"


# --- Create ---------------------------------------------------------------------------------------


def test_create_project_answers_201_with_the_project(client, user):
    response = client.post("/api/projects/", {"name": "Website", "description": "The new site"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == PROJECT_FIELDS
    assert body["name"] == "Website"
    assert body["description"] == "The new site"
    assert body["owner"] == user.pk
    assert body["role"] == "owner"
    assert body["event_seq"] == 1
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")


def test_create_project_stores_it_with_the_creator_as_owner_member(client, user):
    response = client.post("/api/projects/", {"name": "Website"})

    project = Project.objects.get(pk=response.json()["id"])
    assert project.owner == user
    assert list(project.memberships.values_list("user_id", "role")) == [(user.pk, "owner")]


def test_create_project_without_description_stores_an_empty_one(client):
    response = client.post("/api/projects/", {"name": "Website"})

    assert response.status_code == 201
    assert response.json()["description"] == ""


def test_create_project_ignores_a_given_owner(client, user):
    someone_else = UserFactory()

    response = client.post("/api/projects/", {"name": "Website", "owner": someone_else.pk})

    assert response.status_code == 201
    assert response.json()["owner"] == user.pk


def test_create_project_with_name_of_100_characters_succeeds(client):
    response = client.post("/api/projects/", {"name": "n" * 100})

    assert response.status_code == 201


def test_create_project_with_name_over_100_characters_is_400(client):
    response = client.post("/api/projects/", {"name": "n" * 101})

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Project.objects.exists()


def test_create_project_without_name_is_400(client):
    response = client.post("/api/projects/", {"description": "No name"})

    assert response.status_code == 400
    assert "name" in response.json()


def test_create_project_with_description_over_20000_characters_is_400(client):
    response = client.post("/api/projects/", {"name": "Website", "description": "d" * 20_001})

    assert response.status_code == 400
    assert "description" in response.json()


@pytest.mark.parametrize("field", ["name", "description"])
def test_create_project_with_a_number_for_text_is_400(client, field):
    response = client.post("/api/projects/", {"name": "Website", field: 7})

    assert response.status_code == 400
    assert response.json() == {field: ["Not a valid string."]}
    assert not Project.objects.exists()


def test_create_project_with_malformed_json_is_400(client):
    response = client.post("/api/projects/", '{"name": ', content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


# --- List and retrieve ----------------------------------------------------------------------------


def test_list_shows_only_my_projects_with_my_role(client, user):
    mine = services.project_create(actor=user, name="Mine")
    other_owner = UserFactory()
    theirs = services.project_create(actor=other_owner, name="Theirs, I am a viewer")
    services.member_add(project=theirs, actor=other_owner, user=user.pk, role="viewer", operator=True)
    services.project_create(actor=other_owner, name="Not mine")

    response = client.get("/api/projects/")

    assert response.status_code == 200
    assert [(item["name"], item["role"]) for item in response.json()["results"]] == [
        ("Mine", "owner"),
        ("Theirs, I am a viewer", "viewer"),
    ]
    assert [item["id"] for item in response.json()["results"]] == [mine.pk, theirs.pk]


def test_list_is_paginated(client, project):
    response = client.get("/api/projects/")

    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": [response.json()["results"][0]]}


def test_list_is_empty_for_a_user_without_projects(client_for, project):
    response = client_for(UserFactory()).get("/api/projects/")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_retrieve_my_project_shows_my_role_and_event_seq(client_for, project, add_member):
    admin = add_member("admin")
    project.refresh_from_db()

    response = client_for(admin).get(project_url(project))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROJECT_FIELDS
    assert body["id"] == project.pk
    assert body["role"] == "admin"
    assert body["event_seq"] == project.event_seq == 2


def test_retrieve_foreign_project_is_404(client_for, project):
    response = client_for(UserFactory()).get(project_url(project))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_retrieve_foreign_project_looks_like_a_missing_one(client_for, project):
    stranger = client_for(UserFactory())
    foreign = stranger.get(project_url(project))

    missing = stranger.get("/api/projects/999999999/")

    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("project_id", ["abc", "99999999999999999999999"])
def test_retrieve_project_with_malformed_id_is_json_404(client, project_id):
    response = client.get(f"/api/projects/{project_id}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


# --- Update ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_can_edit_project(client_for, user, project, add_member, role):
    editor = user if role == "owner" else add_member(role)

    response = client_for(editor).patch(project_url(project), {"name": "Relaunch", "description": "Again"})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["role"]) == ("Relaunch", "Again", role)
    project.refresh_from_db()
    assert (project.name, project.description) == ("Relaunch", "Again")


def test_edit_project_answers_with_the_new_event_seq(client, project):
    response = client.patch(project_url(project), {"name": "Relaunch"})

    project.refresh_from_db()
    assert response.json()["event_seq"] == project.event_seq == 2


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_member_and_viewer_cannot_edit_project(client_for, project, add_member, role):
    response = client_for(add_member(role)).patch(project_url(project), {"name": "Hijacked"})

    assert response.status_code == 403
    assert "detail" in response.json()
    project.refresh_from_db()
    assert project.name == "Launch"


def test_edit_project_with_name_over_100_characters_is_400(client, project):
    response = client.patch(project_url(project), {"name": "n" * 101})

    assert response.status_code == 400
    assert "name" in response.json()
    project.refresh_from_db()
    assert project.name == "Launch"


def test_edit_project_cannot_change_owner_or_event_seq(client, user, project):
    response = client.patch(project_url(project), {"owner": UserFactory().pk, "event_seq": 500})

    assert response.status_code == 200
    project.refresh_from_db()
    assert project.owner == user
    assert project.event_seq == 1


def test_edit_foreign_project_is_404(client_for, project):
    response = client_for(UserFactory()).patch(project_url(project), {"name": "Hijacked"})

    assert response.status_code == 404
    project.refresh_from_db()
    assert project.name == "Launch"


def test_put_project_is_405(client, project):
    response = client.put(project_url(project), {"name": "Relaunch", "description": ""})

    assert response.status_code == 405
    assert "detail" in response.json()


# --- Delete ---------------------------------------------------------------------------------------


def test_owner_can_delete_project(client, project):
    response = client.delete(project_url(project))

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


def test_delete_project_deletes_its_tasks_and_memberships(client, project, add_member):
    member = add_member("member")
    make_task(project=project, title="One", assignee=member.pk, labels=["a"])
    make_task(project=project, title="Two")

    client.delete(project_url(project))

    assert not Task.objects.filter(project_id=project.pk).exists()
    assert not Membership.objects.filter(project_id=project.pk).exists()


def test_delete_project_leaves_other_projects_alone(client, user, project):
    other = services.project_create(actor=user, name="Other")
    make_task(project=other)

    client.delete(project_url(project))

    assert Task.objects.filter(project=other).count() == 1
    assert Membership.objects.filter(project=other).count() == 1


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_only_the_owner_can_delete_project(client_for, project, add_member, role):
    response = client_for(add_member(role)).delete(project_url(project))

    assert response.status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()


def test_delete_foreign_project_is_404(client_for, project):
    response = client_for(UserFactory()).delete(project_url(project))

    assert response.status_code == 404
    assert Project.objects.filter(pk=project.pk).exists()


# --- Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/projects/"),
        ("post", "/api/projects/"),
        ("get", "/api/projects/{id}/"),
        ("patch", "/api/projects/{id}/"),
        ("delete", "/api/projects/{id}/"),
    ],
)
def test_unauthenticated_request_is_401(api_client, project, method, path):
    response = getattr(api_client, method)(path.format(id=project.pk), {"name": "Anonymous"})

    assert response.status_code == 401
    assert "detail" in response.json()
    project.refresh_from_db()
    assert project.name == "Launch"


def test_request_with_invalid_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.get("/api/projects/")

    assert response.status_code == 401
