"""Due-date reminders as an assignee notices them: one email at the right time, never twice."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.models import Reminder, ReminderStatus
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

LEAD = timedelta(hours=1)


@pytest.fixture
def assignee(add_member):
    member = add_member("member")
    member.email = "assignee@example.com"
    member.save(update_fields=["email"])
    return member


def due_in(delta: timedelta):
    return timezone.now() + delta


def change(task, **data):
    return services.task_update(task=task, actor=task.project.owner, data=data, operator=True)


def reminder_emails() -> list:
    """The reminders in the outbox (a task someone else assigns also emails its assignee)."""
    return [message for message in mail.outbox if message.subject.startswith("Reminder: ")]


def reminders_of(task) -> list[tuple[str, int]]:
    return list(Reminder.objects.filter(task=task).order_by("id").values_list("status", "user_id"))


def test_assigned_task_with_a_due_date_is_reminded_an_hour_before(project, assignee, run_jobs):
    due = due_in(timedelta(hours=3))
    task = make_task(project=project, title="Ship it", assignee=assignee.pk, due_at=due)

    reminder = Reminder.objects.get(task=task)
    assert (reminder.status, reminder.user_id, reminder.due_at, reminder.remind_at) == (
        ReminderStatus.PENDING,
        assignee.pk,
        due,
        due - LEAD,
    )
    run_jobs()
    assert reminder_emails() == []

    run_jobs(due_by=due - LEAD)
    assert len(reminder_emails()) == 1
    message = reminder_emails()[0]
    assert message.to == ["assignee@example.com"]
    assert message.subject.startswith("Reminder: Ship it is due ")
    assert project.name in message.body
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.SENT
    assert reminder.sent_at is not None


def test_reminder_is_sent_once_even_if_its_job_runs_again(project, assignee, run_jobs):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    reminder = Reminder.objects.get(task=task)
    run_jobs(due_by=reminder.remind_at)

    from notifications.jobs import reminder_send

    reminder_send.enqueue(reminder.pk)
    run_jobs()
    assert len(reminder_emails()) == 1


def test_lead_time_is_a_setting(project, assignee, settings):
    settings.TASKFLOW_REMINDER_LEAD = timedelta(minutes=15)
    due = due_in(timedelta(hours=3))
    task = make_task(project=project, assignee=assignee.pk, due_at=due)
    assert Reminder.objects.get(task=task).remind_at == due - timedelta(minutes=15)


def test_task_due_within_the_lead_time_is_reminded_at_once(project, assignee, run_jobs):
    make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(minutes=20)))
    run_jobs()
    assert len(reminder_emails()) == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"due_at": "past"}, id="already-due"),
        pytest.param({"assignee": None}, id="unassigned"),
        pytest.param({"due_at": None}, id="no-due-date"),
        pytest.param({"status": "done"}, id="done"),
        pytest.param({"status": "cancelled"}, id="cancelled"),
    ],
)
def test_no_reminder_for_a_task_that_needs_none(project, assignee, run_jobs, data):
    values = {"assignee": assignee.pk, "due_at": due_in(timedelta(hours=3)), **data}
    if values["due_at"] == "past":
        values["due_at"] = due_in(-timedelta(minutes=1))
    task = make_task(project=project, **values)
    assert reminders_of(task) == []
    run_jobs(due_by=due_in(timedelta(days=1)))
    assert reminder_emails() == []


def test_moving_the_due_date_reschedules_the_reminder(project, assignee, run_jobs):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    later = due_in(timedelta(hours=6))
    change(task, due_at=later)

    assert reminders_of(task) == [(ReminderStatus.CANCELLED, assignee.pk), (ReminderStatus.PENDING, assignee.pk)]
    assert Reminder.objects.get(task=task, status=ReminderStatus.PENDING).remind_at == later - LEAD
    run_jobs(due_by=due_in(timedelta(hours=2, minutes=1)))  # when the first reminder was due
    assert reminder_emails() == []
    run_jobs(due_by=later - LEAD)
    assert len(reminder_emails()) == 1


def test_completing_the_task_cancels_its_reminder(project, assignee, run_jobs):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    change(task, status="done")
    assert reminders_of(task) == [(ReminderStatus.CANCELLED, assignee.pk)]
    run_jobs(due_by=due_in(timedelta(days=1)))
    assert reminder_emails() == []


def test_reopening_a_completed_task_reminds_again(project, assignee, run_jobs):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)), status="done")
    change(task, status="todo")
    run_jobs(due_by=due_in(timedelta(hours=2, minutes=1)))
    assert len(reminder_emails()) == 1


def test_reassigning_reminds_the_new_assignee_only(project, assignee, add_member, run_jobs):
    other = add_member("member")
    other.email = "other@example.com"
    other.save(update_fields=["email"])
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    change(task, assignee=other.pk)
    run_jobs(due_by=due_in(timedelta(hours=2, minutes=1)))
    assert [message.to for message in reminder_emails()] == [["other@example.com"]]


def test_other_changes_keep_the_pending_reminder(project, assignee):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    first = Reminder.objects.get(task=task)
    change(task, title="Renamed", priority=4, status="in_progress")
    assert list(Reminder.objects.filter(task=task)) == [first]
    first.refresh_from_db()
    assert first.status == ReminderStatus.PENDING


def test_removing_the_assignee_from_the_project_cancels_the_reminder(project, assignee, run_jobs):
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    membership = project.memberships.get(user=assignee)
    services.member_remove(project=project, actor=project.owner, membership=membership, operator=True)
    assert reminders_of(task) == [(ReminderStatus.CANCELLED, assignee.pk)]
    run_jobs(due_by=due_in(timedelta(days=1)))
    assert reminder_emails() == []


def test_deleting_the_task_drops_its_reminder_and_its_job_does_nothing(project, assignee, run_jobs):
    task = make_task(project=project, actor=assignee, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    services.task_delete(task=task, actor=project.owner, operator=True)
    assert not Reminder.objects.exists()
    assert run_jobs(due_by=due_in(timedelta(days=1))) == 1
    assert reminder_emails() == []
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_rolled_back_change_schedules_nothing(project, assignee):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
        raise RuntimeError("the request failed after the task was saved")
    assert not Reminder.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_user_without_an_email_gets_no_mail_but_the_reminder_counts_as_sent(project, add_member, run_jobs):
    member = add_member("member")
    member.email = ""
    member.save(update_fields=["email"])
    task = make_task(project=project, assignee=member.pk, due_at=due_in(timedelta(minutes=5)))
    run_jobs()
    assert reminder_emails() == []
    assert Reminder.objects.get(task=task).status == ReminderStatus.SENT


def unreachable_smtp() -> dict:
    """A real SMTP backend pointed at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {"host": "127.0.0.1", "port": port, "timeout": 2}
    return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}}


def test_failed_email_is_retried_later_then_given_up(project, assignee, run_jobs, settings):
    settings.MAILERS = unreachable_smtp()
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(minutes=5)))
    run_jobs()
    reminder = Reminder.objects.get(task=task)
    assert (reminder.status, reminder.attempts) == (ReminderStatus.PENDING, 1)
    assert "Connection" in reminder.error or "refused" in reminder.error
    assert DBTaskResult.objects.filter(status="READY").get().run_after >= timezone.now() + timedelta(minutes=1)

    for _ in range(10):
        run_jobs(due_by=due_in(timedelta(days=1)))
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (ReminderStatus.FAILED, 5)
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_smtp_recovering_sends_the_retried_reminder(project, assignee, run_jobs, settings):
    settings.MAILERS = unreachable_smtp()
    task = make_task(project=project, assignee=assignee.pk, due_at=due_in(timedelta(minutes=5)))
    run_jobs()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    run_jobs(due_by=due_in(timedelta(hours=1)))
    assert len(reminder_emails()) == 1
    assert Reminder.objects.get(task=task).status == ReminderStatus.SENT


def test_admin_lists_reminders(project, assignee, client):
    from accounts.tests.factories import UserFactory

    make_task(project=project, title="Listed", assignee=assignee.pk, due_at=due_in(timedelta(hours=3)))
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    response = client.get("/admin/notifications/reminder/")
    assert response.status_code == 200
    assert b"Listed" in response.content
