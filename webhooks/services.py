"""Writes to webhooks: managing endpoints and redelivering (turning events into deliveries and
attempting them is the jobs' work: webhooks.jobs).

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

import logging
import secrets
from collections.abc import Iterable

from django.db import transaction

from accounts.models import User
from realtime.models import EventType
from taskflow.errors import AccessDenied, InvalidInput, NotFound
from tasks.event_counter import event_counter_lock
from tasks.models import PROJECT_EDITORS, Project
from webhooks import jobs
from webhooks.addresses import URLRefused, url_validate
from webhooks.deliveries import delivery_new
from webhooks.models import (
    ENDPOINTS_PER_PROJECT_MAX,
    SECRET_MAX,
    SECRET_MIN,
    URL_MAX,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)


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
        redelivery = delivery_new(
            endpoint=endpoint, record=record, seq=delivery.seq, event_type=delivery.event_type, redelivery_of=delivery
        )
        redelivery.save(force_insert=True)
        jobs.deliveries_enqueue([redelivery])
    return redelivery
