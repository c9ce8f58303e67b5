"""Writes to webhooks: managing endpoints, turning events into deliveries, and attempting them.

Permission rules live here, as in `tasks.services`: the project comes from
`selectors.project_get_for_webhooks`, annotated with the actor's `role`; operators (the admin) pass
`operator=True`.

Deliveries are fed from the event log, not from the code that changes things: each endpoint keeps a
cursor (`last_seq`) in its project's log, and a dispatch creates a delivery for every event past the
cursor that the endpoint wants, then moves the cursor. A missed trigger therefore delays deliveries
(until the periodic sweep) but never loses them.

Jobs are enqueued inside the transaction that asks for them: the job table is in the same database,
so a job exists exactly when that transaction commits.
"""

import json
import logging
import random
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from realtime.events import event_record
from realtime.models import Event, EventType
from taskflow.errors import AccessDenied, InvalidInput, NotFound
from tasks.event_counter import event_counter_lock
from tasks.models import PROJECT_EDITORS, Project

# Mutual imports of modules, not names: jobs run these services, and these services enqueue jobs.
from webhooks import jobs, selectors
from webhooks.addresses import URLRefused, url_target, url_validate
from webhooks.models import (
    ENDPOINTS_PER_PROJECT_MAX,
    ERROR_MAX,
    SECRET_MAX,
    SECRET_MIN,
    URL_MAX,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.transport import Answer, request_post, signature

logger = logging.getLogger(__name__)

USER_AGENT = "TaskFlow-Webhooks"
# Events read per dispatch; a longer backlog is worked through by further dispatch jobs.
DISPATCH_BATCH = 500
RETRY_DELAY_MAX = timedelta(hours=1)
# Retries are spread by up to this fraction of their delay, so endpoints that failed together
# (a receiver's outage) are not all retried in the same second.
RETRY_JITTER = 0.1


def _require_manager(project: Project, *, operator: bool) -> None:
    if not operator and getattr(project, "role", None) not in PROJECT_EDITORS:
        raise AccessDenied("Only the project's owner and admins manage its webhooks.")


def secret_generate() -> str:
    """A new signing secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def _url_clean(url: str) -> str:
    if len(url) > URL_MAX:
        raise URLRefused(f"The URL may have at most {URL_MAX} characters.")
    url_validate(url)
    return url


def _event_types_clean(event_types: Iterable[str]) -> list[str]:
    """The event types, checked: known, at least one, none twice."""
    chosen = list(event_types)
    unknown = [name for name in chosen if name not in EventType.values]
    if unknown:
        raise InvalidInput(
            f"Unknown event type {unknown[0]!r}; known types: {', '.join(EventType.values)}.", field="event_types"
        )
    if not chosen:
        raise InvalidInput("Choose at least one event type.", field="event_types")
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("Each event type may be listed only once.", field="event_types")
    return chosen


def _secret_clean(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise InvalidInput(f"The secret must have {SECRET_MIN} to {SECRET_MAX} characters.", field="secret")
    return secret


# --- Endpoints ------------------------------------------------------------------------------------


def endpoint_create(
    *,
    project: Project,
    actor: User | None,
    url: str,
    event_types: Iterable[str] | None = None,
    secret: str | None = None,
    is_active: bool = True,
    operator: bool = False,
) -> WebhookEndpoint:
    """Add an endpoint to `project`; it receives the events recorded from now on.

    Without `event_types` it receives every type; without `secret` one is generated (the caller
    shows it once: it is never listed again).
    """
    _require_manager(project, operator=operator)
    # Outside the transaction: checking the URL may wait for DNS.
    url = _url_clean(url)
    event_types = _event_types_clean(EventType.values if event_types is None else event_types)
    secret = secret_generate() if secret is None else _secret_clean(secret)
    with transaction.atomic():
        # Locked so that concurrent creations count each other against the limit.
        current_seq = event_counter_lock(project.pk)
        if WebhookEndpoint.objects.filter(project_id=project.pk).count() >= ENDPOINTS_PER_PROJECT_MAX:
            raise InvalidInput(f"A project can have at most {ENDPOINTS_PER_PROJECT_MAX} webhooks.")
        endpoint = WebhookEndpoint.objects.create(
            project=project,
            url=url,
            secret=secret,
            event_types=event_types,
            is_active=is_active,
            created_by=actor,
            last_seq=current_seq,
        )
    return endpoint


def endpoint_update(
    *, endpoint: WebhookEndpoint, actor: User | None, data: dict, operator: bool = False
) -> WebhookEndpoint:
    """Change an endpoint's `url`, `event_types`, `is_active` or `secret` (those present in `data`).

    Changes apply to deliveries created or attempted afterwards. An endpoint switched back on starts
    from the project's latest event, like a new one: the events of its pause are not sent.
    """
    _require_manager(endpoint.project, operator=operator)
    changes = {}
    if "url" in data and data["url"] != endpoint.url:
        changes["url"] = _url_clean(data["url"])
    if "event_types" in data:
        changes["event_types"] = _event_types_clean(data["event_types"])
    if "secret" in data:
        changes["secret"] = _secret_clean(data["secret"])
    if "is_active" in data:
        changes["is_active"] = bool(data["is_active"])
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if current is None:
            raise NotFound()
        fields = [name for name, value in changes.items() if getattr(current, name) != value]
        if changes.get("is_active") and not current.is_active:
            # An event committed after this read has a greater seq, so it is delivered; none is lost.
            current.last_seq = Project.objects.values_list("event_seq", flat=True).get(pk=current.project_id)
        for name in fields:
            setattr(current, name, changes[name])
        if fields:
            current.save(update_fields=[*fields, "last_seq", "updated_at"])
    current.project = endpoint.project
    return current


def endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None, operator: bool = False) -> None:
    """Delete an endpoint with its delivery log; attempts still queued for it find nothing to send."""
    _require_manager(endpoint.project, operator=operator)
    with transaction.atomic():
        # Locked first, as dispatches and redeliveries do: none can add a delivery between the
        # moment the delete gathers the endpoint's deliveries and the moment it removes the endpoint.
        locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if locked is not None:
            locked.delete()


# --- Deliveries -----------------------------------------------------------------------------------


def delivery_body(payload: dict) -> bytes:
    """The exact bytes sent for a payload, the same at every attempt (keys sorted, no spaces)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _delivery_new(*, endpoint: WebhookEndpoint, record: dict, seq: int, event_type: str, **fields) -> WebhookDelivery:
    """A delivery of one event record, whose body carries the delivery's own id."""
    delivery_id = uuid.uuid4()
    return WebhookDelivery(
        id=delivery_id,
        endpoint=endpoint,
        seq=seq,
        event_type=event_type,
        payload={**record, "delivery": str(delivery_id)},
        next_attempt_at=timezone.now(),
        **fields,
    )


def _deliveries_enqueue(deliveries: Iterable[WebhookDelivery]) -> None:
    for delivery in deliveries:
        jobs.webhook_deliver.enqueue(delivery_id=str(delivery.pk))


def delivery_redeliver(*, delivery: WebhookDelivery, actor: User | None, operator: bool = False) -> WebhookDelivery:
    """Send a delivery's event again, now, as a new delivery (new id, signed anew) that refers to it."""
    _require_manager(delivery.endpoint.project, operator=operator)
    record = {name: value for name, value in delivery.payload.items() if name != "delivery"}
    with transaction.atomic():
        # Locked, so that the endpoint cannot be deleted under the new delivery (see endpoint_delete).
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).first()
        if endpoint is None:
            raise NotFound()
        if not endpoint.is_active:
            raise InvalidInput("This webhook is switched off; switch it on before redelivering.")
        redelivery = _delivery_new(
            endpoint=endpoint, record=record, seq=delivery.seq, event_type=delivery.event_type, redelivery_of=delivery
        )
        redelivery.save(force_insert=True)
        _deliveries_enqueue([redelivery])
    return redelivery


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
                _delivery_new(endpoint=endpoint, record=records[event.seq], seq=event.seq, event_type=event.type)
                for event in new_events
                if event.type in endpoint.event_types
            ]
            endpoint.last_seq = reached
            endpoint.save(update_fields=["last_seq"])
        WebhookDelivery.objects.bulk_create(deliveries)
        _deliveries_enqueue(deliveries)
        if not read_all:
            jobs.webhooks_dispatch.enqueue(project_id=project_id)
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
            jobs.webhook_deliver.using(run_after=fields["next_attempt_at"]).enqueue(delivery_id=str(delivery.pk))
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
