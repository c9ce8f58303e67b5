"""Tasks API: `/api/tasks/` (create) and `/api/tasks/{id}/` (read, change, delete, If-Match)."""

from datetime import datetime

import pytest

from accounts.tests.factories import UserFactory
from taskflow.errors import VersionMismatch
from tasks import services
from tasks.models import Priority, Task, TaskLabel
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

TASK_FIELDS = {
    "id",
    "parent",
    "checklist",
    "project",
    "title",
    "description",
    "status",
    "priority",
    "assignee",
    "created_by",
    "due_at",
    "labels",
    "position",
    "version",
    "created_at",
    "updated_at",
    "completed_at",
}


@pytest.fixture
def task(project):
    return make_task(project=project, title="Write docs", description="All of them", labels=["docs"])


def task_url(task) -> str:
    return f"/api/tasks/{task.pk}/"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- Create ---------------------------------------------------------------------------------------


def test_create_task_answers_201_with_every_field(client, user, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Write docs"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert body["project"] == project.pk
    assert body["title"] == "Write docs"
    assert body["description"] == ""
    assert body["status"] == "todo"
    assert body["priority"] == "medium"
    assert body["assignee"] is None
    assert body["created_by"] == user.pk
    assert body["due_at"] is None
    assert body["labels"] == []
    assert body["version"] == 1
    assert body["completed_at"] is None
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")


def test_create_task_answers_with_etag_of_version_1(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Write docs"})

    assert response["ETag"] == '"1"'


def test_create_task_stores_it(client, user, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Write docs"})

    task = Task.objects.get(pk=response.json()["id"])
    assert (task.project_id, task.title, task.created_by_id, task.version) == (project.pk, "Write docs", user.pk, 1)


def test_create_task_with_every_field(client, project, add_member):
    assignee = add_member("member")
    data = {
        "project": project.pk,
        "title": "Ship it",
        "description": "Before Friday",
        "status": "in_progress",
        "priority": "urgent",
        "assignee": assignee.pk,
        "due_at": "2030-01-31T17:00:00Z",
        "labels": ["release", "backend"],
        "position": 2.5,
    }

    response = client.post("/api/tasks/", data)

    assert response.status_code == 201
    body = response.json()
    assert {name: body[name] for name in data} == data
    assert Task.objects.get(pk=body["id"]).priority == Priority.URGENT


def test_due_at_with_an_offset_is_answered_in_utc(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "due_at": "2030-01-31T19:00:00+02:00"})

    assert response.json()["due_at"] == "2030-01-31T17:00:00Z"


def test_create_task_keeps_the_order_of_labels(client, project):
    labels = ["zeta", "alpha", "Mid", "beta"]

    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": labels})

    assert response.json()["labels"] == labels
    assert client.get(f"/api/tasks/{response.json()['id']}/").json()["labels"] == labels


def test_create_task_with_status_done_sets_completed_at(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "status": "done"})

    assert response.status_code == 201
    assert response.json()["completed_at"] is not None


def test_new_tasks_go_after_existing_ones(client, project):
    make_task(project=project, title="First", position=7)

    response = client.post("/api/tasks/", {"project": project.pk, "title": "Second"})

    assert response.json()["position"] > 7


def test_create_task_ignores_read_only_fields(client, user, project):
    other = UserFactory()
    response = client.post(
        "/api/tasks/",
        {
            "project": project.pk,
            "title": "T",
            "version": 9,
            "created_by": other.pk,
            "completed_at": "2020-01-01T00:00:00Z",
            "id": 123456,
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["version"], body["created_by"], body["completed_at"]) == (1, user.pk, None)
    assert body["id"] != 123456


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admin_and_member_can_create_tasks(client_for, project, add_member, role):
    response = client_for(add_member(role)).post("/api/tasks/", {"project": project.pk, "title": "T"})

    assert response.status_code == 201


def test_viewer_cannot_create_task(client_for, project, add_member):
    response = client_for(add_member("viewer")).post("/api/tasks/", {"project": project.pk, "title": "T"})

    assert response.status_code == 403
    assert "detail" in response.json()
    assert not Task.objects.exists()


def test_create_task_in_project_not_mine_is_400_on_project(client_for, project):
    response = client_for(UserFactory()).post("/api/tasks/", {"project": project.pk, "title": "T"})

    assert response.status_code == 400
    assert "project" in response.json()
    assert not Task.objects.exists()


def test_create_task_in_project_not_mine_looks_like_a_missing_project(client_for, project):
    stranger = client_for(UserFactory())
    foreign = stranger.post("/api/tasks/", {"project": project.pk, "title": "T"})
    project_id = project.pk
    project.delete()

    missing = stranger.post("/api/tasks/", {"project": project_id, "title": "T"})

    assert missing.status_code == 400
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


def test_create_task_with_fractional_project_id_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk + 0.5, "title": "T"})

    assert response.status_code == 400
    assert "project" in response.json()
    assert not Task.objects.exists()


def test_create_task_without_project_is_400(client):
    response = client.post("/api/tasks/", {"title": "T"})

    assert response.status_code == 400
    assert "project" in response.json()


def test_create_task_without_title_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk})

    assert response.status_code == 400
    assert "title" in response.json()


def test_create_task_with_assignee_not_a_member_is_400(client, project):
    outsider = UserFactory()

    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "assignee": outsider.pk})

    assert response.status_code == 400
    assert "assignee" in response.json()
    assert not Task.objects.exists()


def test_create_task_with_assignee_from_another_project_is_400(client, user, project):
    other = services.project_create(actor=user, name="Other")
    elsewhere = UserFactory()
    services.member_add(project=other, actor=user, user=elsewhere.pk, role="member", operator=True)

    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "assignee": elsewhere.pk})

    assert response.status_code == 400
    assert "assignee" in response.json()


@pytest.mark.parametrize("assignee", [0, -1, 2**64, "someone"])
def test_create_task_with_malformed_assignee_is_400(client, project, assignee):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "assignee": assignee})

    assert response.status_code == 400
    assert "assignee" in response.json()


def test_create_task_unauthenticated_is_401(api_client, project):
    response = api_client.post("/api/tasks/", {"project": project.pk, "title": "T"})

    assert response.status_code == 401
    assert not Task.objects.exists()


# --- Field limits and choices ---------------------------------------------------------------------


def test_title_of_200_characters_is_accepted(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "t" * 200})

    assert response.status_code == 201


def test_title_of_201_characters_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "t" * 201})

    assert response.status_code == 400
    assert "title" in response.json()


def test_description_of_20000_characters_is_accepted(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "description": "d" * 20_000})

    assert response.status_code == 201
    assert len(response.json()["description"]) == 20_000


def test_description_of_20001_characters_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "description": "d" * 20_001})

    assert response.status_code == 400
    assert "description" in response.json()


def test_20_labels_are_accepted(client, project):
    labels = [f"label-{index}" for index in range(20)]

    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": labels})

    assert response.status_code == 201
    assert response.json()["labels"] == labels


def test_21_labels_are_400(client, project):
    labels = [f"label-{index}" for index in range(21)]

    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": labels})

    assert response.status_code == 400
    assert "labels" in response.json()


def test_label_of_50_characters_is_accepted(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": ["l" * 50]})

    assert response.status_code == 201


def test_label_of_51_characters_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": ["l" * 51]})

    assert response.status_code == 400
    assert "labels" in response.json()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"title": 7}, {"title": ["Not a valid string."]}),
        ({"title": "T", "description": 7.5}, {"description": ["Not a valid string."]}),
        ({"title": "T", "labels": ["docs", 7]}, {"labels": {"1": ["Not a valid string."]}}),
    ],
)
def test_create_task_with_a_number_for_text_is_400(client, project, body, errors):
    response = client.post("/api/tasks/", {"project": project.pk, **body})

    assert response.status_code == 400
    assert response.json() == errors
    assert not Task.objects.exists()


@pytest.mark.parametrize("labels", [["docs", "docs"], ["docs", "Docs"]])
def test_duplicate_labels_are_400(client, project, labels):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": labels})

    assert response.status_code == 400
    assert "labels" in response.json()
    assert not Task.objects.exists()


def test_labels_differing_only_in_accents_are_distinct(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": ["cafe", "café"]})

    assert response.status_code == 201
    assert response.json()["labels"] == ["cafe", "café"]


@pytest.mark.parametrize("labels", ["docs", [""], [["nested"]], [{"a": 1}]])
def test_malformed_labels_are_400(client, project, labels):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "labels": labels})

    assert response.status_code == 400
    assert "labels" in response.json()


@pytest.mark.parametrize("priority", ["critical", "URGENT", 4, "", None])
def test_invalid_priority_is_400(client, project, priority):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "priority": priority})

    assert response.status_code == 400
    assert "priority" in response.json()


@pytest.mark.parametrize("status", ["closed", "Done", "", None])
def test_invalid_status_is_400(client, project, status):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "status": status})

    assert response.status_code == 400
    assert "status" in response.json()


def test_invalid_priority_in_patch_is_400(client, task):
    response = client.patch(task_url(task), {"priority": "critical"})

    assert response.status_code == 400
    assert "priority" in response.json()
    task.refresh_from_db()
    assert task.priority == Priority.MEDIUM


def test_invalid_status_in_patch_is_400(client, task):
    response = client.patch(task_url(task), {"status": "closed"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_invalid_due_at_is_400(client, project):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "T", "due_at": "next week"})

    assert response.status_code == 400
    assert "due_at" in response.json()


def test_title_over_limit_in_patch_is_400(client, task):
    response = client.patch(task_url(task), {"title": "t" * 201})

    assert response.status_code == 400
    assert "title" in response.json()
    task.refresh_from_db()
    assert task.title == "Write docs"


# --- Retrieve -------------------------------------------------------------------------------------


def test_get_task_answers_with_the_task(client, task):
    response = client.get(task_url(task))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert (body["id"], body["title"], body["description"], body["labels"]) == (
        task.pk,
        "Write docs",
        "All of them",
        ["docs"],
    )


def test_get_task_answers_with_etag_of_its_version(client, task):
    services.task_update(task=task, actor=task.project.owner, data={"title": "Changed"}, operator=True)

    response = client.get(task_url(task))

    assert response.json()["version"] == 2
    assert response["ETag"] == '"2"'


def test_viewer_can_read_task(client_for, task, add_member):
    response = client_for(add_member("viewer")).get(task_url(task))

    assert response.status_code == 200


def test_foreign_task_is_404_not_403(client_for, task):
    response = client_for(UserFactory()).get(task_url(task))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_foreign_task_looks_like_a_missing_one(client_for, task):
    stranger = client_for(UserFactory())

    foreign = stranger.get(task_url(task))
    missing = stranger.get("/api/tasks/999999999/")

    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("task_id", ["abc", "1.5", "99999999999999999999999"])
def test_malformed_task_id_is_json_404(client, task_id):
    response = client.get(f"/api/tasks/{task_id}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_largest_allowed_task_id_is_404(client):
    response = client.get("/api/tasks/999999999999999999/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_task_of_a_project_i_left_is_404(client_for, task, add_member):
    member = add_member("member")
    membership = task.project.memberships.get(user=member)
    services.member_remove(project=task.project, actor=member, membership=membership, operator=True)

    response = client_for(member).get(task_url(task))

    assert response.status_code == 404


# --- Update (PATCH and PUT) -----------------------------------------------------------------------


def test_patch_changes_the_given_fields_only(client, task):
    response = client.patch(task_url(task), {"title": "Rewrite docs"})

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["labels"]) == ("Rewrite docs", "All of them", ["docs"])
    task.refresh_from_db()
    assert task.title == "Rewrite docs"


def test_patch_bumps_version_by_one(client, task):
    response = client.patch(task_url(task), {"title": "Rewrite docs"})

    assert response.json()["version"] == 2
    task.refresh_from_db()
    assert task.version == 2


def test_patch_answers_with_etag_of_the_new_version(client, task):
    response = client.patch(task_url(task), {"title": "Rewrite docs"})

    assert response["ETag"] == '"2"'


def test_each_change_bumps_version_again(client, task):
    client.patch(task_url(task), {"title": "One"})
    client.patch(task_url(task), {"priority": "high"})

    response = client.patch(task_url(task), {"labels": ["docs", "urgent"]})

    assert response.json()["version"] == 4


def test_patch_that_changes_nothing_keeps_the_version(client, task):
    response = client.patch(task_url(task), {"title": "Write docs"})

    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_patch_updates_updated_at(client, task):
    before = task.updated_at

    response = client.patch(task_url(task), {"title": "Rewrite docs"})

    assert parse_time(response.json()["updated_at"]) > before


def test_put_replaces_the_editable_fields(client, task, add_member):
    assignee = add_member("member")
    data = {
        "title": "Ship it",
        "description": "Now",
        "status": "in_progress",
        "priority": "low",
        "assignee": assignee.pk,
        "due_at": "2030-06-01T09:30:00Z",
        "labels": ["b", "a"],
        "position": 10.0,
    }

    response = client.put(task_url(task), data)

    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in data} == data
    assert (body["version"], body["project"]) == (2, task.project_id)
    assert response["ETag"] == '"2"'
    task.refresh_from_db()
    assert (task.title, task.priority, task.assignee_id, task.labels) == (
        "Ship it",
        Priority.LOW,
        assignee.pk,
        ["b", "a"],
    )


def test_put_without_title_is_400(client, task):
    response = client.put(task_url(task), {"description": "No title"})

    assert response.status_code == 400
    assert "title" in response.json()


def test_patch_can_unassign(client, project, add_member):
    assignee = add_member("member")
    task = make_task(project=project, assignee=assignee.pk)

    response = client.patch(task_url(task), {"assignee": None})

    assert response.status_code == 200
    assert response.json()["assignee"] is None
    task.refresh_from_db()
    assert task.assignee_id is None


def test_patch_assignee_not_a_member_is_400(client, task):
    response = client.patch(task_url(task), {"assignee": UserFactory().pk})

    assert response.status_code == 400
    assert "assignee" in response.json()
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 1)


def test_patch_labels_keeps_their_new_order(client, task):
    response = client.patch(task_url(task), {"labels": ["zz", "docs", "aa"]})

    assert response.json()["labels"] == ["zz", "docs", "aa"]
    assert sorted(TaskLabel.objects.filter(task=task).values_list("name", flat=True)) == ["aa", "docs", "zz"]


def test_status_done_sets_completed_at(client, task):
    response = client.patch(task_url(task), {"status": "done"})

    assert response.status_code == 200
    completed_at = response.json()["completed_at"]
    assert completed_at is not None
    assert completed_at.endswith("Z")
    task.refresh_from_db()
    assert task.completed_at is not None


def test_leaving_done_clears_completed_at(client, task):
    client.patch(task_url(task), {"status": "done"})

    response = client.patch(task_url(task), {"status": "in_progress"})

    assert response.json()["completed_at"] is None
    task.refresh_from_db()
    assert task.completed_at is None


def test_other_changes_to_a_done_task_keep_completed_at(client, task):
    done_at = client.patch(task_url(task), {"status": "done"}).json()["completed_at"]

    response = client.patch(task_url(task), {"title": "Rewrite docs"})

    assert response.json()["completed_at"] == done_at


def test_completed_at_cannot_be_written(client, task):
    response = client.patch(task_url(task), {"completed_at": "2020-01-01T00:00:00Z"})

    assert response.status_code == 200
    assert response.json()["completed_at"] is None


def test_project_cannot_be_changed_by_patch(client, user, task):
    other = services.project_create(actor=user, name="Other")

    response = client.patch(task_url(task), {"project": other.pk})

    assert response.status_code == 200
    assert response.json()["project"] == task.project_id
    task.refresh_from_db()
    assert task.project_id != other.pk
    assert task.version == 1


def test_project_cannot_be_changed_by_put(client, user, task):
    other = services.project_create(actor=user, name="Other")

    response = client.put(task_url(task), {"project": other.pk, "title": "Write docs"})

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.project_id != other.pk


@pytest.mark.parametrize("field", ["version", "created_by", "id", "created_at"])
def test_read_only_fields_cannot_be_changed_by_patch(client, task, field):
    before = client.get(task_url(task)).json()

    response = client.patch(task_url(task), {field: "2000-01-01T00:00:00Z" if field == "created_at" else 999})

    assert response.status_code == 200
    assert response.json()[field] == before[field]


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admin_and_member_can_edit_tasks(client_for, task, add_member, role):
    response = client_for(add_member(role)).patch(task_url(task), {"title": "Edited"})

    assert response.status_code == 200


def test_member_can_edit_a_task_created_by_someone_else(client_for, task, add_member):
    response = client_for(add_member("member")).patch(task_url(task), {"status": "in_progress"})

    assert response.status_code == 200
    assert response.json()["created_by"] == task.created_by_id


def test_viewer_cannot_edit_task(client_for, task, add_member):
    response = client_for(add_member("viewer")).patch(task_url(task), {"title": "Edited"})

    assert response.status_code == 403
    task.refresh_from_db()
    assert (task.title, task.version) == ("Write docs", 1)


def test_viewer_cannot_put_task(client_for, task, add_member):
    response = client_for(add_member("viewer")).put(task_url(task), {"title": "Edited"})

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.title == "Write docs"


def test_edit_foreign_task_is_404(client_for, task):
    response = client_for(UserFactory()).patch(task_url(task), {"title": "Hijacked"})

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.title == "Write docs"


def test_edit_task_unauthenticated_is_401(api_client, task):
    response = api_client.patch(task_url(task), {"title": "Anonymous"})

    assert response.status_code == 401


# --- If-Match -------------------------------------------------------------------------------------


def _make_stale(task):
    """Someone else changes the task, so version 1 is no longer current."""
    services.task_update(task=task, actor=task.project.owner, data={"title": "Changed meanwhile"}, operator=True)


def test_patch_with_stale_if_match_is_412_with_the_current_task(client, task):
    _make_stale(task)

    response = client.patch(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert (body["id"], body["title"], body["version"]) == (task.pk, "Changed meanwhile", 2)
    assert response["ETag"] == '"2"'
    task.refresh_from_db()
    assert (task.title, task.version) == ("Changed meanwhile", 2)


def test_put_with_stale_if_match_is_412_with_the_current_task(client, task):
    _make_stale(task)

    response = client.put(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert (response.json()["title"], response.json()["version"]) == ("Changed meanwhile", 2)
    task.refresh_from_db()
    assert task.title == "Changed meanwhile"


def test_delete_with_stale_if_match_is_412_with_the_current_task(client, task):
    _make_stale(task)

    response = client.delete(task_url(task), HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert (response.json()["id"], response.json()["version"]) == (task.pk, 2)
    assert Task.objects.filter(pk=task.pk).exists()


def test_patch_with_future_if_match_is_412(client, task):
    response = client.patch(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH='"7"')

    assert response.status_code == 412
    task.refresh_from_db()
    assert task.title == "Write docs"


def test_patch_with_malformed_if_match_is_412(client, task):
    response = client.patch(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH="yesterday")

    assert response.status_code == 412


def test_patch_with_matching_if_match_succeeds(client, task):
    _make_stale(task)

    response = client.patch(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH='"2"')

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["version"]) == ("Mine", 3)


def test_patch_with_etag_from_get_succeeds(client, task):
    etag = client.get(task_url(task))["ETag"]

    response = client.patch(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200


def test_put_with_matching_if_match_succeeds(client, task):
    response = client.put(task_url(task), {"title": "Mine"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_delete_with_matching_if_match_succeeds(client, task):
    response = client.delete(task_url(task), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert not Task.objects.filter(pk=task.pk).exists()


def test_patch_without_if_match_goes_through_even_after_other_changes(client, task):
    _make_stale(task)

    response = client.patch(task_url(task), {"title": "Mine"})

    assert response.status_code == 200
    assert response.json()["version"] == 3


def test_second_writer_with_the_same_etag_gets_412(client_for, task, add_member):
    first, second = client_for(add_member("member")), client_for(add_member("member"))
    etag = first.get(task_url(task))["ETag"]
    first.patch(task_url(task), {"title": "First"}, HTTP_IF_MATCH=etag)

    response = second.patch(task_url(task), {"title": "Second"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert response.json()["title"] == "First"


# --- Delete ---------------------------------------------------------------------------------------


def test_delete_task_is_204(client, task):
    response = client.delete(task_url(task))

    assert response.status_code == 204
    assert not Task.objects.filter(pk=task.pk).exists()


def test_deleted_task_is_404(client, task):
    client.delete(task_url(task))

    response = client.get(task_url(task))

    assert response.status_code == 404


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admin_and_member_can_delete_tasks(client_for, task, add_member, role):
    response = client_for(add_member(role)).delete(task_url(task))

    assert response.status_code == 204


def test_viewer_cannot_delete_task(client_for, task, add_member):
    response = client_for(add_member("viewer")).delete(task_url(task))

    assert response.status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


def test_delete_foreign_task_is_404(client_for, task):
    response = client_for(UserFactory()).delete(task_url(task))

    assert response.status_code == 404
    assert Task.objects.filter(pk=task.pk).exists()


def test_a_change_made_after_the_read_is_kept_and_the_update_applies_on_top(project):
    owner = project.owner
    read = Task.objects.get(pk=make_task(project=project, title="Read", priority=Priority.LOW).pk)
    services.task_update(
        task=Task.objects.get(pk=read.pk), actor=owner, data={"priority": Priority.URGENT}, operator=True
    )

    updated = services.task_update(task=read, actor=owner, data={"title": "Renamed"}, operator=True)

    stored = Task.objects.get(pk=read.pk)
    assert (stored.title, stored.priority, stored.version) == ("Renamed", Priority.URGENT, 3)
    assert (updated.title, updated.priority, updated.version) == ("Renamed", Priority.URGENT, 3)
    event = project.events.order_by("-seq").first()
    assert (event.data["title"], event.data["priority"], event.data["version"]) == ("Renamed", "urgent", 3)


def test_an_if_match_of_the_read_version_fails_when_the_row_changed_since(project):
    owner = project.owner
    read = Task.objects.get(pk=make_task(project=project, title="Read").pk)
    services.task_update(task=Task.objects.get(pk=read.pk), actor=owner, data={"title": "Theirs"}, operator=True)
    events = project.events.count()

    with pytest.raises(VersionMismatch) as refused:
        services.task_update(
            task=read, actor=owner, data={"title": "Mine"}, expected_version=read.version, operator=True
        )

    assert refused.value.current.title == "Theirs"
    assert Task.objects.get(pk=read.pk).title == "Theirs"
    assert project.events.count() == events
