"""Deliveries as a receiver sees them: one signed POST per matching event, retried until it lands.

Every test runs the real jobs (`run_jobs`, the worker's own code) against a real HTTP receiver on
loopback.
"""

import json
import logging
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from attachments import services as attachment_services
from comments import services as comment_services
from operations.periodic import PERIODIC_JOBS
from operations.tests.jobs import commit_callbacks_run
from realtime.models import Event
from tasks import services as task_services
from tasks.models import Role
from tasks.tests.factories import make_task
from webhooks import jobs, services
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.tests.receiver import HANG, signature_of

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=2)


def deliveries_of(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    """The endpoint's deliveries, oldest first."""
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "seq"))


def only_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    deliveries = deliveries_of(endpoint)
    assert len(deliveries) == 1, deliveries
    return deliveries[0]


def run_jobs_later(run_jobs, times: int = 1) -> None:
    """Run the jobs `times` times, each time as if the clock had moved on past any retry."""
    for _ in range(times):
        run_jobs(due_by=timezone.now() + LATER)


# --- What is sent ---------------------------------------------------------------------------------


def test_a_task_change_sends_one_post_with_the_changes_feed_record(client, project, endpoint, receiver, run_jobs):
    task = make_task(project=project, title="Write the docs")
    run_jobs()

    [request] = receiver.requests
    delivery = only_delivery(endpoint)
    [record] = client.get(f"/api/projects/{project.pk}/events/?since={endpoint.last_seq}").json()["events"]
    assert request.method == "POST"
    assert request.path == "/hook"
    assert json.loads(request.body) == {**record, "delivery": str(delivery.pk)}
    assert record["type"] == "task.created"
    assert record["data"]["id"] == task.pk


def test_the_post_carries_the_event_delivery_and_seq_headers(project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()

    [request] = receiver.requests
    delivery = only_delivery(endpoint)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "TaskFlow-Webhooks"
    assert request.headers["X-TaskFlow-Event"] == "task.created"
    assert request.headers["X-TaskFlow-Delivery"] == str(delivery.pk)
    assert request.headers["X-TaskFlow-Seq"] == str(delivery.seq) == str(json.loads(request.body)["seq"])


def test_the_signature_verifies_with_the_endpoints_secret(project, make_endpoint, receiver, run_jobs):
    make_endpoint(secret="the-receivers-shared-secret")
    make_task(project=project)
    run_jobs()

    [request] = receiver.requests
    assert request.headers["X-TaskFlow-Signature"] == signature_of("the-receivers-shared-secret", request.body)
    assert request.headers["X-TaskFlow-Signature"] != signature_of("another-secret-altogether", request.body)


def test_the_delivery_log_records_the_exact_body_and_the_answer(project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()

    delivery = only_delivery(endpoint)
    [request] = receiver.requests
    assert delivery.payload == json.loads(request.body)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert delivery.response_body == "answer 200"
    assert delivery.error == ""
    assert delivery.delivered_at is not None


def test_every_matching_endpoint_gets_exactly_one_delivery(project, make_endpoint, receiver, run_jobs):
    first, second = make_endpoint(), make_endpoint(url=receiver.url("/second"))
    make_task(project=project)
    run_jobs()

    assert len(deliveries_of(first)) == len(deliveries_of(second)) == 1
    assert sorted(request.path for request in receiver.requests) == ["/hook", "/second"]


def test_an_endpoint_receives_only_its_event_types(project, make_endpoint, receiver, run_jobs):
    make_endpoint(event_types=["task.updated"])
    task = make_task(project=project)
    task_services.task_update(task=task, actor=project.owner, data={"title": "Renamed"}, operator=True)
    task_services.task_delete(task=task, actor=project.owner, operator=True)
    run_jobs()

    assert [body["type"] for body in receiver.bodies()] == ["task.updated"]
    assert receiver.bodies()[0]["data"]["title"] == "Renamed"


def test_member_and_project_events_are_delivered_too(project, endpoint, receiver, run_jobs, add_member):
    add_member(role=Role.VIEWER)
    task_services.project_update(project=project, actor=project.owner, data={"name": "Renamed"}, operator=True)
    run_jobs()

    assert [body["type"] for body in receiver.bodies()] == ["member.added", "project.updated"]


def test_comment_and_attachment_events_are_delivered_to_the_endpoints_that_chose_them(
    project, make_endpoint, receiver, run_jobs
):
    make_endpoint(event_types=["comment.created", "comment.deleted", "attachment.added", "attachment.removed"])
    task = make_task(project=project)
    comment = comment_services.comment_create(task=task, actor=project.owner, body="Looks good", operator=True)
    comment_services.comment_update(comment=comment, actor=project.owner, body="Looks great", operator=True)
    comment_services.comment_delete(comment=comment, actor=project.owner, operator=True)
    upload = ContentFile(b"notes", name="notes.txt")
    attachment = attachment_services.attachment_add(task=task, actor=project.owner, upload=upload, operator=True)
    attachment_services.attachment_remove(attachment=attachment, actor=project.owner, operator=True)
    run_jobs()

    bodies = receiver.bodies()
    assert [body["type"] for body in bodies] == [
        "comment.created",
        "comment.deleted",
        "attachment.added",
        "attachment.removed",
    ]
    assert bodies[0]["data"]["body"] == "Looks good" and bodies[1]["data"]["body"] == "Looks great"
    assert bodies[2]["data"]["filename"] == "notes.txt"


def test_a_new_endpoint_gets_only_events_after_its_creation(project, make_endpoint, receiver, run_jobs):
    make_task(project=project, title="Before")
    endpoint = make_endpoint()
    make_task(project=project, title="After")
    run_jobs()

    assert [body["data"]["title"] for body in receiver.bodies()] == ["After"]
    assert endpoint.last_seq == 2


def test_deliveries_are_sent_in_seq_order(project, endpoint, receiver, run_jobs):
    for index in range(5):
        make_task(project=project, title=f"Task {index}")
    run_jobs()

    seqs = [body["seq"] for body in receiver.bodies()]
    assert seqs == sorted(seqs) and len(seqs) == 5
    assert seqs == [delivery.seq for delivery in deliveries_of(endpoint)]


def test_a_long_backlog_is_dispatched_in_batches_without_losing_any(project, endpoint, receiver, run_jobs, monkeypatch):
    monkeypatch.setattr(jobs, "DISPATCH_BATCH", 2)
    for index in range(5):
        make_task(project=project, title=f"Task {index}")
    run_jobs()

    assert [body["data"]["title"] for body in receiver.bodies()] == [f"Task {index}" for index in range(5)]
    endpoint.refresh_from_db()
    assert endpoint.last_seq == project.events.order_by("-seq").first().seq


# --- Transactions and triggers --------------------------------------------------------------------


def test_a_rolled_back_change_sends_nothing(project, endpoint, receiver, run_jobs):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_task(project=project)
        raise RuntimeError("the request failed after the change")
    run_jobs()

    assert receiver.requests == []
    assert deliveries_of(endpoint) == []


def test_a_project_without_active_endpoints_queues_no_dispatch(project, make_endpoint):
    make_endpoint(is_active=False)
    make_task(project=project)

    assert not DBTaskResult.objects.filter(task_path=jobs.webhooks_dispatch.module_path).exists()


def test_the_sweep_catches_up_an_endpoint_whose_dispatch_was_lost(project, endpoint, receiver, run_jobs):
    make_task(project=project, title="Lost trigger")
    commit_callbacks_run()  # the trigger enqueues the dispatch, which is lost
    DBTaskResult.objects.filter(task_path=jobs.webhooks_dispatch.module_path).delete()
    run_jobs()
    assert receiver.requests == []

    jobs.webhooks_sweep.enqueue()
    run_jobs()

    assert [body["data"]["title"] for body in receiver.bodies()] == ["Lost trigger"]


def test_the_sweep_is_scheduled_every_minute():
    assert PERIODIC_JOBS["webhooks.jobs.webhooks_sweep"] == timedelta(minutes=1)
    assert import_string("webhooks.jobs.webhooks_sweep") is jobs.webhooks_sweep


def test_the_sweep_leaves_endpoints_that_are_up_to_date_alone(project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()

    assert jobs.endpoints_sweep() == 0
    run_jobs()
    assert len(receiver.requests) == 1


def test_events_pruned_before_dispatch_are_skipped_with_a_warning(project, endpoint, receiver, run_jobs, caplog):
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    first_two = Event.objects.filter(project=project, seq__gt=endpoint.last_seq).order_by("seq")[:2]
    Event.objects.filter(pk__in=[event.pk for event in first_two]).delete()

    with caplog.at_level(logging.WARNING, logger="webhooks.services"):
        run_jobs()

    assert [body["data"]["title"] for body in receiver.bodies()] == ["Task 2"]
    assert "pruned" in caplog.text


def test_deleting_an_endpoint_stops_its_queued_deliveries(client, project, endpoint, receiver, run_jobs):
    make_task(project=project)
    response = client.delete(f"/api/projects/{project.pk}/webhooks/{endpoint.pk}/")
    assert response.status_code == 204
    make_task(project=project)
    run_jobs()

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_switching_an_endpoint_off_fails_its_pending_deliveries_unsent(client, project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()  # dispatched and sent
    receiver.answer(500)
    make_task(project=project, title="Second")
    run_jobs()  # first attempt fails, a retry is queued
    client.patch(f"/api/projects/{project.pk}/webhooks/{endpoint.pk}/", {"is_active": False}, format="json")
    run_jobs_later(run_jobs)

    assert len(receiver.requests) == 2
    second = deliveries_of(endpoint)[-1]
    assert second.status == DeliveryStatus.FAILED
    assert "switched off" in second.error


def test_switching_an_endpoint_back_on_skips_the_events_of_its_pause(client, project, endpoint, receiver, run_jobs):
    url = f"/api/projects/{project.pk}/webhooks/{endpoint.pk}/"
    client.patch(url, {"is_active": False}, format="json")
    make_task(project=project, title="While off")
    client.patch(url, {"is_active": True}, format="json")
    make_task(project=project, title="Back on")
    run_jobs()

    assert [body["data"]["title"] for body in receiver.bodies()] == ["Back on"]


# --- Failures, retries and giving up --------------------------------------------------------------


def test_a_failed_attempt_is_retried_after_the_backoff_and_then_succeeds(project, endpoint, receiver, run_jobs):
    receiver.answer(500)
    make_task(project=project)
    run_jobs()

    delivery = only_delivery(endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.response_body == "answer 500"
    assert "500" in delivery.error
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 30 <= wait <= 33  # TASKFLOW_WEBHOOK_RETRY_SECONDS, plus at most 10% jitter

    run_jobs()  # not due yet
    assert len(receiver.requests) == 1

    run_jobs(due_by=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert len(receiver.requests) == 2
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert delivery.error == ""
    assert receiver.requests[0].body == receiver.requests[1].body


def test_each_retry_waits_twice_as_long(project, endpoint, receiver, run_jobs, settings):
    settings.TASKFLOW_WEBHOOK_RETRY_SECONDS = 10
    receiver.answer(500, 500, 500)
    make_task(project=project)
    waits = []
    for _ in range(3):
        run_jobs_later(run_jobs)
        delivery = only_delivery(endpoint)
        waits.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())

    assert [round(wait // 10) * 10 for wait in waits] == [10, 20, 40]


def test_retry_delays_are_capped_at_an_hour():
    assert jobs.retry_delay(30) == timedelta(hours=1)
    assert jobs.retry_delay(1000) == timedelta(hours=1)


def test_a_delivery_fails_after_the_maximum_attempts(project, endpoint, receiver, run_jobs, settings):
    settings.TASKFLOW_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(500, 503, 500, 500)
    make_task(project=project)
    run_jobs_later(run_jobs, times=5)

    delivery = only_delivery(endpoint)
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.FAILED, 3, 500)
    assert delivery.next_attempt_at is None


def test_a_redirect_is_a_failure_and_is_not_followed(project, endpoint, receiver, run_jobs):
    receiver.answer(302)
    make_task(project=project)
    run_jobs()

    delivery = only_delivery(endpoint)
    assert [request.path for request in receiver.requests] == ["/hook"]
    assert (delivery.status, delivery.response_status) == (DeliveryStatus.PENDING, 302)
    assert "Redirects are not followed" in delivery.error


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(project, endpoint, receiver, run_jobs, settings):
    settings.TASKFLOW_WEBHOOK_TIMEOUT = 0.5
    receiver.answer(HANG)
    make_task(project=project)
    started = timezone.now()
    run_jobs()

    delivery = only_delivery(endpoint)
    assert (timezone.now() - started).total_seconds() < 5
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.PENDING, 1, None)
    assert "timed out" in delivery.error


def test_an_unreachable_receiver_is_a_failed_attempt(project, make_endpoint, receiver, run_jobs):
    receiver.stop()
    endpoint = make_endpoint(url=receiver.url())
    make_task(project=project)
    run_jobs()

    delivery = only_delivery(endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "Could not connect" in delivery.error


def test_a_failing_endpoint_does_not_hold_up_another(project, make_endpoint, receiver, run_jobs, settings):
    settings.TASKFLOW_WEBHOOK_TIMEOUT = 0.5
    failing = make_endpoint(url=receiver.url("/failing"))
    healthy = make_endpoint(url=receiver.url("/healthy"))
    receiver.answer(HANG)
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    run_jobs()

    assert [delivery.status for delivery in deliveries_of(healthy)] == [DeliveryStatus.SUCCEEDED] * 3
    assert [delivery.status for delivery in deliveries_of(failing)].count(DeliveryStatus.PENDING) >= 1


# --- Redelivery -----------------------------------------------------------------------------------


def test_redelivery_sends_the_same_event_as_a_new_signed_delivery(project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()
    original = only_delivery(endpoint)

    redelivery = services.delivery_redeliver(delivery=original, actor=project.owner, operator=True)
    run_jobs()

    first, second = receiver.requests
    assert second.headers["X-TaskFlow-Delivery"] == str(redelivery.pk) != str(original.pk)
    assert json.loads(second.body) == {**json.loads(first.body), "delivery": str(redelivery.pk)}
    assert second.headers["X-TaskFlow-Signature"] == signature_of(endpoint.secret, second.body)
    redelivery.refresh_from_db()
    assert (redelivery.status, redelivery.redelivery_of_id, redelivery.seq) == (
        DeliveryStatus.SUCCEEDED,
        original.pk,
        original.seq,
    )


def test_a_failed_delivery_can_be_redelivered_once_the_receiver_is_back(
    project, endpoint, receiver, run_jobs, settings
):
    settings.TASKFLOW_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(500)
    make_task(project=project)
    run_jobs()
    failed = only_delivery(endpoint)
    assert failed.status == DeliveryStatus.FAILED

    services.delivery_redeliver(delivery=failed, actor=project.owner, operator=True)
    run_jobs()

    assert [request.headers["X-TaskFlow-Seq"] for request in receiver.requests] == [str(failed.seq)] * 2
    assert WebhookDelivery.objects.get(redelivery_of=failed).status == DeliveryStatus.SUCCEEDED
