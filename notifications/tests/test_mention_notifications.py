"""Mentions in comments notify: the job enqueued with the comment, one email per newly mentioned
member once the jobs run (never the author, never a non-member, never twice for the same mention,
nobody for a comment deleted meanwhile), and a `comment.mention` frame on the member's sockets."""

import socket

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.tests.factories import UserFactory
from comments.models import Comment
from notifications.models import Notification
from operations.tests.jobs import jobs_run
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

MENTION_JOB = "notifications.jobs.mention_send"


def member_named(project, username: str, role: str = "member"):
    person = UserFactory(username=username, email=f"{username}@example.com")
    services.member_add(project=project, actor=project.owner, user=person.pk, role=role, operator=True)
    return person


@pytest.fixture
def task(project):
    return make_task(project=project, title="Write docs")


@pytest.fixture
def ada(project):
    return member_named(project, "ada")


@pytest.fixture
def grace(project):
    return member_named(project, "grace")


def post_comment(client, task, body: str) -> dict:
    response = client.post(f"/api/tasks/{task.pk}/comments/", {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def patch_comment(client, comment: dict, body: str) -> dict:
    response = client.patch(f"/api/comments/{comment['id']}/", {"body": body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def waiting_mention_jobs() -> list[list]:
    """The arguments of the mention jobs waiting to run: [comment id, [user ids]]."""
    jobs = DBTaskResult.objects.filter(task_path=MENTION_JOB, status=TaskResultStatus.READY).order_by("enqueued_at")
    return [job.args_kwargs["args"] for job in jobs]


def recipients() -> list[list[str]]:
    return [message.to for message in mail.outbox]


# --- The job and the email ------------------------------------------------------------------------


def test_mentioning_a_member_enqueues_their_notification(client, task, ada):
    created = post_comment(client, task, "@ada please review")

    assert waiting_mention_jobs() == [[created["id"], [ada.pk]]]
    assert mail.outbox == []


def test_running_the_jobs_emails_the_mentioned_member(client, user, task, ada):
    post_comment(client, task, "@ada please review")

    assert jobs_run() == 1

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == f"{user.username} mentioned you on: Write docs"
    assert "@ada please review" in message.body
    assert "Launch" in message.body


def test_the_email_goes_once(client, task, ada):
    post_comment(client, task, "@ada please review")

    jobs_run()
    assert jobs_run() == 0

    assert recipients() == [["ada@example.com"]]


def test_each_mentioned_member_gets_an_email_of_their_own(client, task, ada, grace):
    post_comment(client, task, "@grace and @ada, please review")

    jobs_run()

    assert sorted(recipients()) == [["ada@example.com"], ["grace@example.com"]]


def test_author_mentioning_themself_is_not_notified(client, user, task):
    post_comment(client, task, f"note to self, @{user.username}")

    assert waiting_mention_jobs() == []
    jobs_run()
    assert mail.outbox == []


def test_author_mentioning_themself_and_a_member_notifies_only_the_member(client, user, task, ada):
    post_comment(client, task, f"@{user.username} and @ada")

    jobs_run()

    assert recipients() == [["ada@example.com"]]


def test_mentioning_a_non_member_notifies_nobody(client, task):
    UserFactory(username="outsider", email="outsider@example.com")

    post_comment(client, task, "@outsider have a look")

    assert waiting_mention_jobs() == []
    jobs_run()
    assert mail.outbox == []


def test_an_email_address_in_the_body_notifies_nobody(client, task, ada):
    post_comment(client, task, "write to ada@example.com")

    jobs_run()

    assert mail.outbox == []


def test_a_refused_comment_notifies_nobody(client_for, project, task, ada):
    viewer = member_named(project, "watcher", role="viewer")

    response = client_for(viewer).post(f"/api/tasks/{task.pk}/comments/", {"body": "@ada look"}, format="json")

    assert response.status_code == 403
    jobs_run()
    assert mail.outbox == []


def test_patch_keeping_the_same_mention_does_not_notify_again(client, task, ada):
    created = post_comment(client, task, "@ada please review")
    jobs_run()

    patch_comment(client, created, "@ada please review, when you can")

    assert waiting_mention_jobs() == []
    jobs_run()
    assert recipients() == [["ada@example.com"]]


def test_patch_adding_a_mention_notifies_only_the_new_member(client, task, ada, grace):
    created = post_comment(client, task, "@ada please review")
    jobs_run()
    mail.outbox.clear()

    patch_comment(client, created, "@ada please review, and @grace too")

    assert waiting_mention_jobs() == [[created["id"], [grace.pk]]]
    jobs_run()
    assert recipients() == [["grace@example.com"]]
    assert "and @grace too" in mail.outbox[0].body


def test_comment_deleted_before_the_job_runs_notifies_nobody(client, task, ada):
    created = post_comment(client, task, "@ada please review")
    assert client.delete(f"/api/comments/{created['id']}/").status_code == 204

    assert jobs_run() == 1

    assert mail.outbox == []


def test_task_deleted_before_the_job_runs_notifies_nobody(client, task, ada):
    post_comment(client, task, "@ada please review")
    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204

    jobs_run()

    assert not Comment.objects.exists()
    assert mail.outbox == []


def test_member_removed_before_the_job_runs_is_not_notified(client, project, task, ada, grace):
    post_comment(client, task, "@ada and @grace")
    services.member_remove(
        project=project, actor=project.owner, membership=project.memberships.get(user=ada), operator=True
    )

    jobs_run()

    assert recipients() == [["grace@example.com"]]


def test_a_failed_email_is_logged_and_not_retried(client, task, ada, settings, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }
    post_comment(client, task, "@ada please review")

    assert jobs_run() == 1

    assert f"Could not email user {ada.pk} of their mention" in caplog.text
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert DBTaskResult.objects.get(task_path=MENTION_JOB).status == TaskResultStatus.SUCCESSFUL


# --- The frame on the member's sockets ------------------------------------------------------------


@sync_to_async
def task_with_members(owner, *usernames: str):
    project = services.project_create(actor=owner, name="Release")
    members = [member_named(project, username) for username in usernames]
    return make_task(project=project, title="Tag the release"), members


@sync_to_async
def comment_posted(client, task, body: str) -> dict:
    return post_comment(client, task, body)


@pytest.mark.django_db(transaction=True)
async def test_mentioned_members_socket_receives_a_comment_mention_frame(signed_in, client, user):
    task, [ada] = await task_with_members(user, "ada")
    ws = await signed_in(ada)
    created = await comment_posted(client, task, "@ada the tag is yours")

    assert await sync_to_async(jobs_run)() == 1

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    notification = await Notification.objects.aget(user=ada)
    assert frame == {
        "type": "notification",
        "id": notification.pk,
        "kind": "comment.mention",
        "project": task.project_id,
        "task": task.pk,
        "actor": user.pk,
        "at": created["updated_at"],
        "read_at": None,
        "data": {
            "task": {
                "id": task.pk,
                "project": task.project_id,
                "project_name": "Release",
                "title": "Tag the release",
                "due_at": None,
            },
            "comment": {
                "id": created["id"],
                "author": user.pk,
                "author_username": user.username,
                "body": "@ada the tag is yours",
            },
        },
    }
    assert await ws.receive_nothing(SILENCE)


@pytest.mark.django_db(transaction=True)
async def test_members_not_mentioned_and_the_author_get_no_frame(signed_in, client, user):
    task, [ada, grace] = await task_with_members(user, "ada", "grace")
    mentioned, bystander, author = await signed_in(ada), await signed_in(grace), await signed_in(user)
    await comment_posted(client, task, f"@{user.username} and @ada")

    await sync_to_async(jobs_run)()

    assert (await mentioned.receive_json_from(FRAME_TIMEOUT))["kind"] == "comment.mention"
    assert await bystander.receive_nothing(SILENCE)
    assert await author.receive_nothing(SILENCE)


@pytest.mark.django_db(transaction=True)
async def test_frame_of_an_edit_carries_the_edited_comment(signed_in, client, user):
    task, [ada] = await task_with_members(user, "ada")
    ws = await signed_in(ada)
    created = await comment_posted(client, task, "No mention yet")
    response = await sync_to_async(client.patch)(
        f"/api/comments/{created['id']}/", {"body": "Now for @ada"}, format="json"
    )
    edited = response.json()

    await sync_to_async(jobs_run)()

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    assert (frame["kind"], frame["at"], frame["data"]["comment"]["body"]) == (
        "comment.mention",
        edited["updated_at"],
        "Now for @ada",
    )
