"""Background jobs of webhooks: dispatching a project's new events, attempting a delivery, the sweep.

Deliveries are fed from the event log, not from the code that changes things: each endpoint keeps a
cursor (`last_seq`) in its project's log, and a dispatch creates a delivery for every event past the
cursor that the endpoint wants, then moves the cursor. A missed trigger therefore delays deliveries
(until the periodic sweep) but never loses them. Each job does its work here and enqueues its
follow-up jobs (the deliveries, a retry, the rest of a backlog) in its own transaction.
"""

import logging
import random
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from realtime.events import event_record
from realtime.models import Event
from tasks.models import Project
from webhooks import selectors
from webhooks.addresses import URLRefused, url_target
from webhooks.deliveries import delivery_body, delivery_new
from webhooks.models import ERROR_MAX, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.transport import Answer, request_post, signature

logger = logging.getLogger(__name__)

USER_AGENT = "TaskFlow-Webhooks"
# Events read per dispatch; a longer backlog is worked through by further dispatch jobs.
DISPATCH_BATCH = 500
RETRY_DELAY_MAX = timedelta(hours=1)
# Retries are spread by up to this fraction of their delay, so endpoints that failed together
# (a receiver's outage) are not all retried in the same second.
RETRY_JITTER = 0.1


@task
def webhooks_dispatch(project_id: int) -> int:
    """Create and enqueue the deliveries of the project's events past each endpoint's cursor."""
    return deliveries_dispatch(project_id=project_id)


@task
def webhook_deliver(delivery_id: str) -> str:
    """Make one attempt at a delivery (if still pending); a failed one enqueues its retry."""
    return delivery_attempt(delivery_id=delivery_id)


@task
def webhooks_sweep() -> int:
    """Every minute (operations.periodic): dispatch for any project whose endpoints lag behind its log."""
    return endpoints_sweep()


def deliveries_enqueue(deliveries: Iterable[WebhookDelivery]) -> None:
    """Enqueue an attempt at each delivery, in the caller's transaction."""
    for delivery in deliveries:
        webhook_deliver.enqueue(delivery_id=str(delivery.pk))


def deliveries_dispatch(*, project_id: int, batch: int | None = None) -> int:
    """Create and enqueue the deliveries of the project's new events, for each active endpoint in
    seq order, and move the endpoints' cursors past them. Returns how many deliveries were created.

    At most `batch` events are read (DISPATCH_BATCH by default); when there may be more, another
    dispatch is enqueued to go on. Events that retention removed before an endpoint reached them are
    skipped, with a warning: they can no longer be sent.
    """
    batch = batch or DISPATCH_BATCH
    with transaction.atomic():
        # Locked, so that two dispatches of a project (its trigger and the sweep) queue instead of
        # both creating the same deliveries; each reads the cursors only once it holds the lock.
        endpoints = list(
            WebhookEndpoint.objects.select_for_update().filter(project_id=project_id, is_active=True).order_by("id")
        )
        if not endpoints:
            return 0
        # Read before the events: every event up to this seq is committed, so it is in the log or pruned.
        project_seq = Project.objects.values_list("event_seq", flat=True).get(pk=project_id)
        since = min(endpoint.last_seq for endpoint in endpoints)
        events = list(Event.objects.filter(project_id=project_id, seq__gt=since).order_by("seq")[:batch])
        read_all = len(events) < batch
        records = {event.seq: event_record(event) for event in events}
        deliveries = []
        for endpoint in endpoints:
            new_events = [event for event in events if event.seq > endpoint.last_seq]
            if new_events:
                reached = new_events[-1].seq
                first_retained = new_events[0].seq
            elif read_all and project_seq > endpoint.last_seq:
                # Every event it had not reached yet was pruned.
                reached, first_retained = project_seq, project_seq + 1
            else:
                continue
            if first_retained > endpoint.last_seq + 1:
                logger.warning(
                    "Webhook %s of project %s skips events %s to %s: they were pruned from the log before "
                    "they could be delivered.",
                    endpoint.pk,
                    project_id,
                    endpoint.last_seq + 1,
                    first_retained - 1,
                )
            deliveries += [
                delivery_new(endpoint=endpoint, record=records[event.seq], seq=event.seq, event_type=event.type)
                for event in new_events
                if event.type in endpoint.event_types
            ]
            endpoint.last_seq = reached
            endpoint.save(update_fields=["last_seq"])
        WebhookDelivery.objects.bulk_create(deliveries)
        deliveries_enqueue(deliveries)
        if not read_all:
            webhooks_dispatch.enqueue(project_id=project_id)
    return len(deliveries)


def endpoints_sweep() -> int:
    """Dispatch for every project that has an active endpoint behind its event log; returns how
    many deliveries that created.

    The safety net under the per-event trigger (a dispatch job lost with a worker, say). Finding
    the projects is one query, so running it every minute costs little.
    """
    created = 0
    for project_id in selectors.projects_with_endpoints_behind():
        try:
            created += deliveries_dispatch(project_id=project_id)
        except Exception:
            # One project's trouble must not keep the others' deliveries waiting.
            logger.exception(
                "Could not dispatch the webhook deliveries of project %s; the next sweep retries.", project_id
            )
    return created


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed attempts: TASKFLOW_WEBHOOK_RETRY_SECONDS doubled
    with each further failure, plus up to 10% jitter, at most an hour."""
    base = settings.TASKFLOW_WEBHOOK_RETRY_SECONDS * 2 ** min(attempts - 1, 32)
    return min(timedelta(seconds=base * (1 + random.uniform(0, RETRY_JITTER))), RETRY_DELAY_MAX)


def delivery_attempt(*, delivery_id: str) -> str:
    """Make one attempt at a pending delivery and record it; returns the delivery's status then.

    A 2xx answer delivers it. Anything else (another status, a redirect, no answer, a URL that is
    now refused) is a failed attempt: retried after `retry_delay` until TASKFLOW_WEBHOOK_MAX_ATTEMPTS,
    then the delivery has failed. The request is made outside any transaction, so a slow receiver
    holds no database locks.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "deleted"
    if delivery.status != DeliveryStatus.PENDING:
        return delivery.status
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            error="Not sent: the webhook was switched off. Redeliver it once the webhook is on again.",
        )
        return DeliveryStatus.FAILED
    body = delivery_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-TaskFlow-Event": delivery.event_type,
        "X-TaskFlow-Delivery": str(delivery.pk),
        "X-TaskFlow-Seq": str(delivery.seq),
        "X-TaskFlow-Signature": signature(secret=endpoint.secret, body=body),
    }
    try:
        target = url_target(endpoint.url)
    except URLRefused as exc:
        answer = Answer(error=f"Not sent: {exc.message}")
    else:
        answer = request_post(target=target, body=body, headers=headers, timeout=settings.TASKFLOW_WEBHOOK_TIMEOUT)
    return _attempt_record(delivery, answer)


def _attempt_record(delivery: WebhookDelivery, answer: Answer) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    error = answer.error
    if answer.status is not None and not 200 <= answer.status < 300:
        error = f"The receiver answered {answer.status}; only a 2xx answer counts as delivered."
        if 300 <= answer.status < 400:
            error += " Redirects are not followed: use the final URL."
    fields = {
        "attempts": attempts,
        "last_attempt_at": now,
        "response_status": answer.status,
        "response_body": answer.body,
        "error": error[:ERROR_MAX],
        "next_attempt_at": None,
    }
    if not error:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now)
    elif attempts < settings.TASKFLOW_WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.PENDING, next_attempt_at=now + retry_delay(attempts))
    else:
        fields.update(status=DeliveryStatus.FAILED)
    with transaction.atomic():
        # Recorded only if the delivery is as this attempt found it: the row was not locked while the
        # request ran, and the endpoint may have been deleted meanwhile.
        recorded = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
        ).update(**fields)
        if recorded and fields["status"] == DeliveryStatus.PENDING:
            webhook_deliver.using(run_after=fields["next_attempt_at"]).enqueue(delivery_id=str(delivery.pk))
    if recorded and fields["status"] == DeliveryStatus.FAILED:
        logger.warning(
            "Webhook delivery %s (%s #%s) to endpoint %s failed after %s attempts: %s",
            delivery.pk,
            delivery.event_type,
            delivery.seq,
            delivery.endpoint_id,
            attempts,
            fields["error"],
        )
    return fields["status"]
