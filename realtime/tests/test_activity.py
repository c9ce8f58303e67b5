"""The activity history: `GET /api/tasks/{id}/activity/` and `GET /api/projects/{id}/activity/`.

What each entry says (kind, actor, time, and `changes` field by field as the API shows the object),
which changes a project's history keeps, that it outlives its tasks and the pruning of the event
log but not its project, that an entry exists exactly when its change was committed, who may read
it, what a page of it costs, and the operator's read-only admin pages.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from realtime.models import Activity, Event
from tasks import services
from tasks.models import Project, Task
from tasks.signals import task_changed
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

ENTRY_FIELDS = {"id", "project", "task", "actor", "at", "kind", "changes"}
# What a task's history leaves out of `changes`: what names the task or keeps its books.
TASK_BOOKKEEPING = {"id", "project", "version", "created_at", "updated_at"}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def task_activity(client, task_id: int, **params) -> dict:
    response = client.get(f"/api/tasks/{task_id}/activity/", params)
    assert response.status_code == 200, response.content
    return response.json()


def project_activity(client, project, **params) -> dict:
    response = client.get(f"/api/projects/{project.pk}/activity/", params)
    assert response.status_code == 200, response.content
    return response.json()


def feed(client, project) -> list[dict]:
    return client.get(f"/api/projects/{project.pk}/events/").json()["events"]


def create_task(client, project, **fields) -> dict:
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Write docs", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def patch_task(client, task_id: int, body: dict) -> dict:
    response = client.patch(f"/api/tasks/{task_id}/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- A task's history ------------------------------------------------------------------------------


def test_creating_a_task_records_every_field_from_null(client, user, project):
    task = create_task(client, project, labels=["docs"], description="All of them")

    [entry] = task_activity(client, task["id"])["results"]

    assert set(entry) == ENTRY_FIELDS
    assert (entry["project"], entry["task"], entry["actor"], entry["kind"]) == (
        project.pk,
        task["id"],
        user.pk,
        "task.created",
    )
    assert entry["changes"] == {name: [None, value] for name, value in task.items() if name not in TASK_BOOKKEEPING}
    assert entry["changes"]["labels"] == [None, ["docs"]]
    # At the moment of the change: the time of the event that records it.
    assert entry["at"] == feed(client, project)[-1]["at"]


def test_a_change_records_only_the_fields_whose_value_changed(client, user, project):
    task = create_task(client, project)

    changed = patch_task(client, task["id"], {"title": "Ship docs", "status": "done"})

    entry = task_activity(client, task["id"])["results"][0]
    assert (entry["kind"], entry["actor"], entry["task"]) == ("task.updated", user.pk, task["id"])
    assert entry["changes"] == {
        "title": ["Write docs", "Ship docs"],
        "status": ["todo", "done"],
        "completed_at": [None, changed["completed_at"]],
    }
    assert isinstance(changed["completed_at"], str)


def test_changed_values_are_as_the_api_shows_them(client, project, add_member):
    member = add_member("member")
    task = create_task(client, project)

    changed = patch_task(
        client, task["id"], {"priority": "urgent", "due_at": "2030-01-02T05:04:05+02:00", "assignee": member.pk}
    )

    entry = task_activity(client, task["id"])["results"][0]
    assert entry["changes"] == {
        "priority": ["medium", "urgent"],
        "due_at": [None, "2030-01-02T03:04:05Z"],
        "assignee": [None, member.pk],
    }
    assert changed["due_at"] == "2030-01-02T03:04:05Z"


def test_a_patch_that_changes_nothing_records_nothing(client, project):
    task = create_task(client, project)
    patch_task(client, task["id"], {"title": "Write docs", "status": "todo"})

    assert [entry["kind"] for entry in task_activity(client, task["id"])["results"]] == ["task.created"]


def test_a_checklist_change_records_the_old_and_the_new_list(client, project):
    task = create_task(client, project, checklist=[{"text": "Outline"}])

    patch_task(client, task["id"], {"checklist": [{"id": 1, "text": "Outline", "done": True}, {"text": "Draft"}]})

    entry = task_activity(client, task["id"])["results"][0]
    assert entry["changes"] == {
        "checklist": [
            [{"id": 1, "text": "Outline", "done": False}],
            [{"id": 1, "text": "Outline", "done": True}, {"id": 2, "text": "Draft", "done": False}],
        ]
    }


def test_task_activity_is_newest_first_and_includes_its_comments(client, project):
    task = create_task(client, project)
    patch_task(client, task["id"], {"title": "Second"})
    assert client.post(f"/api/tasks/{task['id']}/comments/", {"body": "Looks good"}, format="json").status_code == 201
    patch_task(client, task["id"], {"title": "Third"})

    results = task_activity(client, task["id"])["results"]

    assert [entry["kind"] for entry in results] == ["task.updated", "comment.created", "task.updated", "task.created"]
    assert [entry["id"] for entry in results] == sorted((entry["id"] for entry in results), reverse=True)
    assert results[0]["changes"] == {"title": ["Second", "Third"]}


def test_task_activity_is_paginated(client, project):
    task = create_task(client, project)
    for index in range(4):
        patch_task(client, task["id"], {"title": f"Title {index}"})

    first = task_activity(client, task["id"], page_size=2)
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    assert set(first) == {"next", "previous", "results"}
    assert first["previous"] is None
    assert [len(page["results"]) for page in (first, second, third)] == [2, 2, 1]
    assert third["next"] is None
    assert third["previous"] is not None
    titles = [entry["changes"]["title"][1] for page in (first, second, third) for entry in page["results"]]
    assert titles == ["Title 3", "Title 2", "Title 1", "Title 0", "Write docs"]


# --- A project's history ---------------------------------------------------------------------------


def test_project_activity_keeps_tasks_members_comments_and_attachments_but_not_project_changes(client, user, project):
    newcomer = UserFactory()
    members = f"/api/projects/{project.pk}/members/"
    assert client.post(members, {"user": newcomer.pk, "role": "member"}, format="json").status_code == 201
    assert client.patch(f"{members}{newcomer.pk}/", {"role": "admin"}, format="json").status_code == 200
    task = create_task(client, project)
    patch_task(client, task["id"], {"title": "Renamed"})
    comment = client.post(f"/api/tasks/{task['id']}/comments/", {"body": "First"}, format="json").json()
    assert client.patch(f"/api/comments/{comment['id']}/", {"body": "Edited"}, format="json").status_code == 200
    assert client.delete(f"/api/comments/{comment['id']}/").status_code == 204
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(f"/api/tasks/{task['id']}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    attachment = response.json()
    assert client.delete(f"/api/attachments/{attachment['id']}/").status_code == 204
    assert client.patch(f"/api/projects/{project.pk}/", {"name": "Relaunch"}, format="json").status_code == 200
    assert client.delete(f"{members}{newcomer.pk}/").status_code == 204

    results = project_activity(client, project)["results"]

    assert [entry["kind"] for entry in results] == [
        "member.removed",
        "attachment.removed",
        "attachment.added",
        "comment.deleted",
        "comment.updated",
        "comment.created",
        "task.updated",
        "task.created",
        "member.updated",
        "member.added",
        "member.added",  # the owner's, when the project was created
    ]
    assert "project.updated" in [event["type"] for event in feed(client, project)]
    by_kind = {}
    for entry in results:  # the newest of each kind
        by_kind.setdefault(entry["kind"], entry)
    assert by_kind["member.updated"]["changes"] == {"role": ["member", "admin"]}
    assert by_kind["member.added"]["changes"] == {
        "user": [None, newcomer.pk],
        "username": [None, newcomer.username],
        "role": [None, "member"],
    }
    assert by_kind["member.removed"]["changes"] == {
        "user": [newcomer.pk, None],
        "username": [newcomer.username, None],
        "role": ["admin", None],
    }
    assert by_kind["comment.updated"]["changes"] == {"body": ["First", "Edited"]}
    assert by_kind["attachment.added"]["changes"]["filename"] == [None, "notes.txt"]
    assert by_kind["attachment.removed"]["changes"]["size"] == [5, None]
    assert {by_kind[kind]["task"] for kind in ("comment.created", "attachment.added")} == {task["id"]}
    assert by_kind["member.removed"]["task"] is None
    assert {entry["actor"] for entry in results} == {user.pk}


def test_a_deleted_tasks_history_stays_in_the_project_activity(client, project):
    task = create_task(client, project, labels=["docs"])
    last = patch_task(client, task["id"], {"title": "Doomed"})

    assert client.delete(f"/api/tasks/{task['id']}/").status_code == 204

    assert client.get(f"/api/tasks/{task['id']}/activity/").status_code == 404
    entries = [entry for entry in project_activity(client, project)["results"] if entry["task"] == task["id"]]
    assert [entry["kind"] for entry in entries] == ["task.deleted", "task.updated", "task.created"]
    assert entries[0]["changes"] == {
        name: [value, None] for name, value in last.items() if name not in TASK_BOOKKEEPING
    }
    assert entries[0]["changes"]["title"] == ["Doomed", None]


def test_the_history_survives_pruning_the_event_log(client, project, settings):
    settings.TASKFLOW_EVENT_RETENTION = timedelta(days=7)
    task = create_task(client, project)
    patch_task(client, task["id"], {"title": "Kept"})
    before = project_activity(client, project)["results"]
    Event.objects.filter(project=project).update(created_at=timezone.now() - timedelta(days=8))

    out = StringIO()
    call_command("prune_events", stdout=out)

    assert "Deleted 3 event(s)" in out.getvalue()
    assert not Event.objects.filter(project=project).exists()
    assert project_activity(client, project)["results"] == before
    assert [entry["kind"] for entry in task_activity(client, task["id"])["results"]] == ["task.updated", "task.created"]


def test_the_history_goes_with_its_project(client, user, project):
    make_task(project=project)
    other = services.project_create(actor=user, name="Other")
    make_task(project=other)

    assert client.delete(f"/api/projects/{project.pk}/").status_code == 204

    assert not Activity.objects.filter(project_id=project.pk).exists()
    assert Activity.objects.filter(project_id=other.pk).count() == 2


# --- Written with the change, or not at all --------------------------------------------------------


def test_a_change_rolled_back_after_its_signal_leaves_no_entry_and_no_event(user, project):
    task = make_task(project=project, title="Before")
    entries, events = Activity.objects.count(), Event.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.task_update(task=task, actor=user, data={"title": "After"}, operator=True)
        assert Activity.objects.count() == entries + 1  # written, inside the transaction
        raise RuntimeError("the caller's transaction fails after the change")

    assert (Activity.objects.count(), Event.objects.count()) == (entries, events)
    assert Task.objects.get(pk=task.pk).title == "Before"


def test_a_service_failing_after_the_history_was_written_leaves_no_entry_and_no_event(client, project):
    task = create_task(client, project, title="Before")
    entries, events = Activity.objects.count(), Event.objects.count()

    def fail(sender, **kwargs):
        raise RuntimeError("a later receiver of the same change fails")

    # Connected after realtime's receiver, so it runs once the event and the entry are written.
    task_changed.connect(fail, dispatch_uid="test_activity.fail")
    try:
        client.raise_request_exception = False
        response = client.patch(f"/api/tasks/{task['id']}/", {"title": "After"}, format="json")
    finally:
        task_changed.disconnect(dispatch_uid="test_activity.fail")

    assert response.status_code == 500
    assert (Activity.objects.count(), Event.objects.count()) == (entries, events)
    assert Task.objects.get(pk=task["id"]).title == "Before"


# --- Who may read it -------------------------------------------------------------------------------


@pytest.fixture
def task_of_project(project):
    return make_task(project=project)


def test_a_user_of_another_project_gets_404_on_both(client_for, task_of_project, project):
    stranger = UserFactory()
    services.project_create(actor=stranger, name="Theirs")
    client = client_for(stranger)

    assert client.get(f"/api/tasks/{task_of_project.pk}/activity/").status_code == 404
    assert client.get(f"/api/projects/{project.pk}/activity/").status_code == 404


def test_viewers_read_both(client_for, add_member, task_of_project, project):
    viewer = client_for(add_member("viewer"))

    assert [entry["kind"] for entry in task_activity(viewer, task_of_project.pk)["results"]] == ["task.created"]
    assert [entry["kind"] for entry in project_activity(viewer, project)["results"]][:2] == [
        "member.added",  # the viewer's own
        "task.created",
    ]


def test_without_a_token_both_are_401(api_client, task_of_project, project):
    assert api_client.get(f"/api/tasks/{task_of_project.pk}/activity/").status_code == 401
    assert api_client.get(f"/api/projects/{project.pk}/activity/").status_code == 401


# --- What a page costs -----------------------------------------------------------------------------


def statements_of(client, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(TRANSACTION_CONTROL)]


def test_project_activity_costs_the_same_for_3_and_30_entries(client, project):
    path = f"/api/projects/{project.pk}/activity/"
    for index in range(2):
        make_task(project=project, title=f"Task {index}")
    assert len(project_activity(client, project)["results"]) == 3
    few = statements_of(client, path)

    for index in range(27):
        make_task(project=project, title=f"More {index}")
    assert len(project_activity(client, project)["results"]) == 30
    many = statements_of(client, path)

    assert len(many) == len(few), many
    # The caller's row (authentication); the project with the caller's role; the page.
    assert len(few) == 3, few


def test_task_activity_costs_the_same_for_few_and_many_entries(client, task_of_project):
    path = f"/api/tasks/{task_of_project.pk}/activity/"
    few = statements_of(client, path)
    for index in range(20):
        services.task_update(
            task=Task.objects.get(pk=task_of_project.pk),
            actor=task_of_project.project.owner,
            data={"position": index + 1},
            operator=True,
        )
    assert len(task_activity(client, task_of_project.pk)["results"]) == 21
    many = statements_of(client, path)

    assert len(many) == len(few), many


# --- The admin -------------------------------------------------------------------------------------

ACTIVITY_ADMIN = "/admin/realtime/activity/"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_the_history_with_search_and_kind_filter(admin_client, project, task_of_project):
    other = services.project_create(actor=project.owner, name="Elsewhere")
    make_task(project=other)

    response = admin_client.get(ACTIVITY_ADMIN, {"q": "Launch", "kind": "task.created"})

    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert [(entry.project_id, entry.task_id, entry.kind) for entry in listed] == [
        (project.pk, task_of_project.pk, "task.created")
    ]


def test_the_admin_cannot_add_or_change_an_entry(admin_client, task_of_project):
    entry = Activity.objects.get(task_id=task_of_project.pk)

    assert admin_client.get(f"{ACTIVITY_ADMIN}add/").status_code == 403
    page = admin_client.get(f"{ACTIVITY_ADMIN}{entry.pk}/change/")
    assert page.status_code == 200  # to read it
    assert page.context["has_change_permission"] is False
    response = admin_client.post(f"{ACTIVITY_ADMIN}{entry.pk}/change/", {"kind": "task.deleted", "changes": "{}"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.kind == "task.created"
    assert Project.objects.filter(pk=task_of_project.project_id).exists()
