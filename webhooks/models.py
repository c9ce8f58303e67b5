"""Webhook endpoints of a project and the deliveries of its events to them: data and constraints only."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from realtime.models import EventType

URL_MAX = 2000
SECRET_MIN = 16
SECRET_MAX = 200
ENDPOINTS_PER_PROJECT_MAX = 20
# How much of a receiver's answer is kept (and read at all) for the delivery log.
RESPONSE_EXCERPT_MAX = 2048
ERROR_MAX = 1000


class WebhookEndpoint(models.Model):
    """A URL that receives a project's events of the chosen types, each POST signed with `secret`."""

    project = models.ForeignKey("tasks.Project", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=URL_MAX)
    # Kept readable: every delivery is signed with it (HMAC-SHA256).
    secret = models.CharField(max_length=SECRET_MAX)
    event_types = models.JSONField(default=list, help_text="The event types this endpoint receives.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The project's event seq up to which deliveries have been created: the dispatch cursor.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["project_id", "id"]
        indexes = [
            # "Does this project have an active endpoint?", asked for every event recorded.
            models.Index(fields=["project", "is_active"], name="webhook_project_active"),
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with the outcome of its latest attempt.

    `payload` is the JSON body, including this delivery's own id; a redelivery is a new delivery
    with the same event and a new id.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    seq = models.PositiveBigIntegerField()
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text=f"The first {RESPONSE_EXCERPT_MAX} bytes of the answer.")
    error = models.TextField(blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-seq"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-seq"], name="delivery_endpoint_newest"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
            models.CheckConstraint(
                condition=Q(status=DeliveryStatus.SUCCEEDED, delivered_at__isnull=False)
                | ~Q(status=DeliveryStatus.SUCCEEDED),
                name="delivery_succeeded_has_delivered_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq} to {self.endpoint_id} ({self.status})"
