"""Deliveries of events to webhook endpoints: a new delivery of an event record, and its exact bytes.

Shared by the dispatch job, which creates a delivery per event an endpoint wants
(webhooks.jobs), and by redelivery (webhooks.services).
"""

import json
import uuid

from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookEndpoint


def delivery_body(payload: dict) -> bytes:
    """The exact bytes sent for a payload, the same at every attempt (keys sorted, no spaces)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_new(*, endpoint: WebhookEndpoint, record: dict, seq: int, event_type: str, **fields) -> WebhookDelivery:
    """A delivery of one event record, whose body carries the delivery's own id (not saved yet)."""
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
