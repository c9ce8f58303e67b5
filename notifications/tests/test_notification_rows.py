"""Notifications as rows: one per user and occurrence (a task someone else assigned them, a mention,
a task coming due), listed by `GET /api/notifications/`, marked read, emailed unless the user said
no, and sent to their sockets as the row itself."""

import socket
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.db import connection, transaction
from django.tasks.base import TaskResultStatus
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework import serializers

from accounts.tests.factories import UserFactory
from notifications.models import Notification, NotificationKind
from notifications.payloads import NotificationPayload, notification_payload
from notifications.serializers import NotificationSerializer
from operations.tests.jobs import jobs_run
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from tasks import services
from tasks.tests.factories import make_task
from tasks.tests.test_work_per_request import statements

pytestmark = pytest.mark.django_db

ASSIGNMENT_JOB = "notifications.jobs.assignment_send"
NOTIFICATIONS = "/api/notifications/"


def member_named(project, username: str, role: str = "member"):
    person = UserFactory(username=username, email=f"{username}@example.com")
    services.member_add(project=project, actor=project.owner, user=person.pk, role=role, operator=True)
    return person


@pytest.fixture
def ada(project):
    return member_named(project, "ada")


@pytest.fixture
def grace(project):
    return member_named(project, "grace")


def assign(client, task, user) -> dict:
    response = client.patch(f"/api/tasks/{task.pk}/", {"assignee": user.pk if user else None}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def notifications_of(user) -> list[tuple[str, int | None, int | None]]:
    """(kind, task, actor) of the user's notification rows, oldest first."""
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", "task_id", "actor_id"))


def listed(client, query: str = "") -> list[dict]:
    response = client.get(NOTIFICATIONS + query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def waiting_assignment_jobs() -> int:
    return DBTaskResult.objects.filter(task_path=ASSIGNMENT_JOB, status=TaskResultStatus.READY).count()


def recipients() -> list[list[str]]:
    return [message.to for message in mail.outbox]


def email_off(client_for, person) -> None:
    response = client_for(person).patch("/api/auth/me/", {"email_notifications": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email_notifications"] is False


# --- task.assigned ------------------------------------------------------------------------------


def test_a_task_created_for_another_member_notifies_them(client, user, project, ada):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Write docs", "assignee": ada.pk})
    task = response.json()

    assert jobs_run() == 1

    assert notifications_of(ada) == [("task.assigned", task["id"], user.pk)]
    notification = Notification.objects.get(user=ada)
    assert notification.project_id == project.pk
    assert notification.data == {
        "task": {
            "id": task["id"],
            "project": project.pk,
            "project_name": "Launch",
            "title": "Write docs",
            "due_at": None,
        }
    }
    assert notifications_of(user) == []


def test_assigning_an_existing_task_to_another_member_notifies_them(client, user, project, ada):
    task = make_task(project=project, title="Write docs")

    assign(client, task, ada)
    jobs_run()

    assert notifications_of(ada) == [("task.assigned", task.pk, user.pk)]


def test_the_assignment_is_emailed_to_the_assignee(client, user, project, ada):
    task = make_task(project=project, title="Write docs")

    assign(client, task, ada)
    jobs_run()

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == f"{user.username} assigned you: Write docs"
    assert "Launch" in message.body


def test_assigning_yourself_notifies_nobody(client_for, project, ada):
    task = make_task(project=project, actor=ada, title="Mine", assignee=ada.pk)
    other = make_task(project=project, title="Also mine")
    assign(client_for(ada), other, ada)

    assert waiting_assignment_jobs() == 0
    jobs_run()
    assert Notification.objects.count() == 0
    assert mail.outbox == []
    assert (task.assignee_id, Notification.objects.filter(task_id=other.pk).exists()) == (ada.pk, False)


def test_unassigning_notifies_nobody(client, project, ada):
    task = make_task(project=project, assignee=ada.pk)
    jobs_run()
    Notification.objects.all().delete()

    assign(client, task, None)

    assert waiting_assignment_jobs() == 0


def test_other_changes_of_an_assigned_task_notify_nobody_again(client, project, ada):
    task = make_task(project=project, assignee=ada.pk)
    jobs_run()

    client.patch(f"/api/tasks/{task.pk}/", {"title": "Renamed", "priority": 4}, format="json")

    assert waiting_assignment_jobs() == 0
    jobs_run()
    assert len(notifications_of(ada)) == 1


def test_reassigned_before_the_job_runs_only_the_new_assignee_is_told(client, project, ada, grace):
    task = make_task(project=project, assignee=ada.pk)
    assign(client, task, grace)

    assert jobs_run() == 2

    assert notifications_of(ada) == []
    assert [kind for kind, _, _ in notifications_of(grace)] == ["task.assigned"]
    assert recipients() == [["grace@example.com"]]


def test_task_deleted_before_the_job_runs_notifies_nobody(client, project, ada):
    task = make_task(project=project, assignee=ada.pk)
    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204

    jobs_run()

    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_a_rolled_back_assignment_notifies_nobody(project, ada):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_task(project=project, assignee=ada.pk)
        raise RuntimeError("the request failed after the task was saved")

    assert waiting_assignment_jobs() == 0


# --- comment.mention and task.due ---------------------------------------------------------------


def test_a_mention_is_a_row_with_the_comment(client, user, project, ada):
    task = make_task(project=project, title="Write docs")
    comment = client.post(f"/api/tasks/{task.pk}/comments/", {"body": "@ada please review"}, format="json").json()

    jobs_run()

    assert notifications_of(ada) == [("comment.mention", task.pk, user.pk)]
    notification = Notification.objects.get(user=ada)
    assert notification.data["comment"] == {
        "id": comment["id"],
        "author": user.pk,
        "author_username": user.username,
        "body": "@ada please review",
    }
    assert notification.data["task"]["title"] == "Write docs"


def test_a_due_reminder_is_a_row_without_an_actor(project, ada):
    task = make_task(project=project, actor=ada, assignee=ada.pk, due_at=timezone.now() + timedelta(minutes=20))

    jobs_run()

    assert notifications_of(ada) == [("task.due", task.pk, None)]
    assert Notification.objects.get(user=ada).data["task"]["due_at"] is not None


def test_an_assignment_with_a_due_date_is_two_notifications(project, ada):
    task = make_task(project=project, assignee=ada.pk, due_at=timezone.now() + timedelta(minutes=20))

    jobs_run()

    assert sorted(kind for kind, _, _ in notifications_of(ada)) == ["task.assigned", "task.due"]
    assert all(task_id == task.pk for _, task_id, _ in notifications_of(ada))


def test_a_reminder_whose_email_is_retried_is_one_notification(project, ada, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }
    make_task(project=project, actor=ada, assignee=ada.pk, due_at=timezone.now() + timedelta(minutes=5))
    jobs_run()
    assert [kind for kind, _, _ in notifications_of(ada)] == ["task.due"]

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    jobs_run(due_by=timezone.now() + timedelta(hours=1))

    assert len(mail.outbox) == 1
    assert [kind for kind, _, _ in notifications_of(ada)] == ["task.due"]


# --- Email on and off ---------------------------------------------------------------------------


def test_me_shows_and_changes_email_notifications(client_for, ada):
    me = client_for(ada)
    assert me.get("/api/auth/me/").json()["email_notifications"] is True

    email_off(client_for, ada)

    assert me.get("/api/auth/me/").json()["email_notifications"] is False
    ada.refresh_from_db()
    assert ada.email_notifications is False


@pytest.mark.parametrize("value", ["false", 0, None])
def test_email_notifications_takes_json_booleans_only(client_for, ada, value):
    response = client_for(ada).patch("/api/auth/me/", {"email_notifications": value}, format="json")

    assert response.status_code == 400
    assert "email_notifications" in response.json()


def test_with_emails_off_an_assignment_is_a_row_and_no_email(client, client_for, project, ada):
    email_off(client_for, ada)
    task = make_task(project=project)

    assign(client, task, ada)
    jobs_run()

    assert [kind for kind, _, _ in notifications_of(ada)] == ["task.assigned"]
    assert mail.outbox == []


def test_with_emails_off_a_mention_is_a_row_and_no_email(client, client_for, project, ada, grace):
    email_off(client_for, ada)
    task = make_task(project=project)

    client.post(f"/api/tasks/{task.pk}/comments/", {"body": "@ada and @grace"}, format="json")
    jobs_run()

    assert [kind for kind, _, _ in notifications_of(ada)] == ["comment.mention"]
    assert recipients() == [["grace@example.com"]]


def test_with_emails_off_a_reminder_is_a_row_and_no_email_and_counts_as_sent(client_for, project, ada):
    email_off(client_for, ada)
    task = make_task(project=project, actor=ada, assignee=ada.pk, due_at=timezone.now() + timedelta(minutes=5))

    jobs_run()

    assert [kind for kind, _, _ in notifications_of(ada)] == ["task.due"]
    assert mail.outbox == []
    assert task.reminders.get().status == "sent"


def test_turning_emails_back_on_emails_again(client, client_for, project, ada):
    email_off(client_for, ada)
    client_for(ada).patch("/api/auth/me/", {"email_notifications": True}, format="json")

    assign(client, make_task(project=project), ada)
    jobs_run()

    assert recipients() == [["ada@example.com"]]


# --- The list -----------------------------------------------------------------------------------


def test_the_list_is_the_callers_own_newest_first(client, client_for, project, ada, grace):
    first, second = make_task(project=project, title="First"), make_task(project=project, title="Second")
    assign(client, first, ada)
    assign(client, second, ada)
    assign(client, make_task(project=project, title="Grace's"), grace)
    jobs_run()

    results = listed(client_for(ada))

    assert [(entry["kind"], entry["task"]) for entry in results] == [
        ("task.assigned", second.pk),
        ("task.assigned", first.pk),
    ]
    assert listed(client) == []


def test_an_entry_is_the_row(client, client_for, user, project, ada):
    task = make_task(project=project, title="Write docs")
    assign(client, task, ada)
    jobs_run()
    notification = Notification.objects.get(user=ada)

    [entry] = listed(client_for(ada))

    assert entry == {
        "id": notification.pk,
        "kind": "task.assigned",
        "project": project.pk,
        "task": task.pk,
        "actor": user.pk,
        "at": notification.at.isoformat().replace("+00:00", "Z"),
        "read_at": None,
        "data": {
            "task": {
                "id": task.pk,
                "project": project.pk,
                "project_name": "Launch",
                "title": "Write docs",
                "due_at": None,
            }
        },
    }


def test_unread_true_lists_only_the_unread(client, client_for, project, ada):
    for title in ("One", "Two", "Three"):
        assign(client, make_task(project=project, title=title), ada)
    jobs_run()
    ada_client = client_for(ada)
    oldest = listed(ada_client)[-1]
    assert ada_client.post(f"{NOTIFICATIONS}{oldest['id']}/read/").status_code == 204

    unread = listed(ada_client, "?unread=true")

    assert [entry["data"]["task"]["title"] for entry in unread] == ["Three", "Two"]
    assert len(listed(ada_client, "?unread=false")) == 3
    assert len(listed(ada_client)) == 3


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_unread_takes_true_or_false_only(client, value):
    response = client.get(f"{NOTIFICATIONS}?unread={value}")

    assert response.status_code == 400
    assert "unread" in response.json()


def test_the_list_is_paginated(client, client_for, project, ada):
    for title in ("One", "Two", "Three"):
        assign(client, make_task(project=project, title=title), ada)
    jobs_run()

    page = client_for(ada).get(f"{NOTIFICATIONS}?page_size=2").json()

    assert [entry["data"]["task"]["title"] for entry in page["results"]] == ["Three", "Two"]
    assert "page=2" in page["next"]
    assert page["previous"] is None


def test_a_deleted_tasks_notification_stays_readable(client, client_for, project, ada):
    task = make_task(project=project, title="Short-lived")
    assign(client, task, ada)
    jobs_run()
    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204

    [entry] = listed(client_for(ada))

    assert (entry["task"], entry["data"]["task"]["title"]) == (task.pk, "Short-lived")


def test_a_deleted_projects_notifications_go_with_it(client, client_for, project, ada):
    assign(client, make_task(project=project), ada)
    jobs_run()

    assert client.delete(f"/api/projects/{project.pk}/").status_code == 204

    assert listed(client_for(ada)) == []


def test_an_actor_who_left_leaves_a_null_actor(client, client_for, project, ada):
    lin = member_named(project, "lin", role="admin")
    assign(client_for(lin), make_task(project=project), ada)
    jobs_run()

    lin.delete()

    [entry] = listed(client_for(ada))
    assert entry["actor"] is None


def test_the_list_needs_a_login(api_client):
    assert api_client.get(NOTIFICATIONS).status_code == 401


def test_the_list_costs_the_same_statements_for_one_row_or_many(client, client_for, project, ada):
    def list_statements() -> list[str]:
        ada_client = client_for(ada)
        with CaptureQueriesContext(connection) as queries, TestCase.captureOnCommitCallbacks(execute=True):
            assert ada_client.get(f"{NOTIFICATIONS}?unread=true").status_code == 200
        return statements(queries)

    assign(client, make_task(project=project), ada)
    jobs_run()
    one = list_statements()
    for index in range(20):
        assign(client, make_task(project=project, title=f"Task {index}"), ada)
    jobs_run()
    many = list_statements()

    # The caller's row (authentication), the page.
    assert len(one) == len(many) == 2, many


def test_the_payload_is_exactly_the_serializers_declared_fields(client, project, ada):
    assign(client, make_task(project=project), ada)
    jobs_run()
    notification = Notification.objects.get(user=ada)
    declared = serializers.ModelSerializer.to_representation(NotificationSerializer(notification), notification)

    assert notification_payload(notification) == declared
    assert NotificationSerializer(notification).data == declared
    assert list(notification_payload(notification)) == list(NotificationPayload.__annotations__)


# --- Read and read-all --------------------------------------------------------------------------


@pytest.fixture
def adas_notifications(client, project, ada) -> list[Notification]:
    for title in ("One", "Two"):
        assign(client, make_task(project=project, title=title), ada)
    jobs_run()
    return list(Notification.objects.filter(user=ada).order_by("id"))


def test_read_marks_one_read(client_for, ada, adas_notifications):
    first, second = adas_notifications

    response = client_for(ada).post(f"{NOTIFICATIONS}{first.pk}/read/")

    assert response.status_code == 204
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    [entry] = [entry for entry in listed(client_for(ada)) if entry["id"] == first.pk]
    assert entry["read_at"] == first.read_at.isoformat().replace("+00:00", "Z")


def test_reading_again_keeps_the_first_read_time(client_for, ada, adas_notifications):
    first = adas_notifications[0]
    client_for(ada).post(f"{NOTIFICATIONS}{first.pk}/read/")
    first.refresh_from_db()
    read_at = first.read_at

    assert client_for(ada).post(f"{NOTIFICATIONS}{first.pk}/read/").status_code == 204

    first.refresh_from_db()
    assert first.read_at == read_at


def test_reading_someone_elses_notification_is_a_404_and_changes_nothing(client_for, grace, adas_notifications):
    first = adas_notifications[0]

    response = client_for(grace).post(f"{NOTIFICATIONS}{first.pk}/read/")

    assert response.status_code == 404
    first.refresh_from_db()
    assert first.read_at is None


def test_reading_a_missing_notification_is_a_404(client):
    assert client.post(f"{NOTIFICATIONS}999999/read/").status_code == 404


def test_read_all_marks_only_the_callers_unread_read(client, client_for, project, ada, grace, adas_notifications):
    assign(client, make_task(project=project), grace)
    jobs_run()

    assert client_for(ada).post(f"{NOTIFICATIONS}read-all/").status_code == 204

    assert listed(client_for(ada), "?unread=true") == []
    assert len(listed(client_for(ada))) == 2
    assert len(listed(client_for(grace), "?unread=true")) == 1


def test_read_all_with_nothing_unread_is_a_204(client):
    assert client.post(f"{NOTIFICATIONS}read-all/").status_code == 204


def test_read_and_read_all_need_a_login(api_client, adas_notifications):
    assert api_client.post(f"{NOTIFICATIONS}{adas_notifications[0].pk}/read/").status_code == 401
    assert api_client.post(f"{NOTIFICATIONS}read-all/").status_code == 401


# --- The admin ----------------------------------------------------------------------------------


def test_admin_lists_searches_and_filters_notifications(client, ada, adas_notifications):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)

    listing = client.get("/admin/notifications/notification/")
    searched = client.get("/admin/notifications/notification/", {"q": "ada"})
    nobody = client.get("/admin/notifications/notification/", {"q": "nobody-by-that-name"})
    unread = client.get("/admin/notifications/notification/", {"kind__exact": "task.assigned", "read_at__isempty": "1"})

    assert all(response.status_code == 200 for response in (listing, searched, nobody, unread))
    assert listing.context["cl"].result_count == 2
    assert searched.context["cl"].result_count == 2
    assert nobody.context["cl"].result_count == 0
    assert unread.context["cl"].result_count == 2


def test_admin_cannot_add_or_edit_notifications(client, adas_notifications):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert client.get("/admin/notifications/notification/add/").status_code == 403
    change = client.post(f"/admin/notifications/notification/{adas_notifications[0].pk}/change/", {"kind": "task.due"})
    assert change.status_code == 403
    assert Notification.objects.filter(kind=NotificationKind.TASK_DUE).count() == 0


# --- The frames ---------------------------------------------------------------------------------


@sync_to_async
def project_with_member(owner, username: str):
    project = services.project_create(actor=owner, name="Release")
    return project, member_named(project, username)


@sync_to_async
def assigned_by_api(client, project, person) -> dict:
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Tag it", "assignee": person.pk})
    assert response.status_code == 201, response.content
    return response.json()


@sync_to_async
def entries_of(client_for, person) -> list[dict]:
    return listed(client_for(person))


@pytest.mark.django_db(transaction=True)
async def test_the_assignees_socket_gets_the_row_as_the_frame(signed_in, client, client_for, user):
    project, ada = await project_with_member(user, "ada")
    ws = await signed_in(ada)
    task = await assigned_by_api(client, project, ada)

    assert await sync_to_async(jobs_run)() == 1

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    [entry] = await entries_of(client_for, ada)
    assert frame == {"type": "notification", **entry}
    assert (frame["kind"], frame["task"], frame["actor"]) == ("task.assigned", task["id"], user.pk)
    assert await ws.receive_nothing(SILENCE)


@pytest.mark.django_db(transaction=True)
async def test_the_mentioned_members_socket_gets_the_row_as_the_frame(signed_in, client, client_for, user):
    project, ada = await project_with_member(user, "ada")
    task = await sync_to_async(make_task)(project=project, title="Tag it")
    ws = await signed_in(ada)
    await sync_to_async(client.post)(f"/api/tasks/{task.pk}/comments/", {"body": "@ada look"}, format="json")

    await sync_to_async(jobs_run)()

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    [entry] = await entries_of(client_for, ada)
    assert frame == {"type": "notification", **entry}
    assert frame["kind"] == "comment.mention"


@pytest.mark.django_db(transaction=True)
async def test_the_reminder_frame_is_the_row(signed_in, client_for, user):
    project, ada = await project_with_member(user, "ada")
    ws = await signed_in(ada)
    await sync_to_async(make_task)(
        project=project, actor=ada, assignee=ada.pk, due_at=timezone.now() + timedelta(minutes=10)
    )

    await sync_to_async(jobs_run)()

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    [entry] = await entries_of(client_for, ada)
    assert frame == {"type": "notification", **entry}
    assert (frame["kind"], frame["actor"]) == ("task.due", None)


@pytest.mark.django_db(transaction=True)
async def test_assigning_yourself_sends_no_frame(signed_in, client_for, user):
    project, ada = await project_with_member(user, "ada")
    ws = await signed_in(ada)
    await assigned_by_api(await sync_to_async(client_for)(ada), project, ada)

    assert await sync_to_async(jobs_run)() == 0

    assert await ws.receive_nothing(SILENCE)
    assert await entries_of(client_for, ada) == []
