"""Routes of the webhook API, included under /api/."""

from django.urls import re_path

from tasks.api import ID_PATTERN
from webhooks.api import DeliveryViewSet, WebhookViewSet

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

WEBHOOK = rf"^projects/(?P<project_id>{ID_PATTERN})/webhooks/(?P<webhook_id>{ID_PATTERN})/"
DELIVERY = rf"{WEBHOOK}deliveries/(?P<delivery_id>{UUID_PATTERN})/"

urlpatterns = [
    re_path(
        rf"^projects/(?P<project_id>{ID_PATTERN})/webhooks/$",
        WebhookViewSet.as_view({"get": "list", "post": "create"}, suffix="List"),
        name="project-webhooks",
    ),
    re_path(
        rf"{WEBHOOK}$",
        WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}, suffix="Instance"),
        name="project-webhook",
    ),
    re_path(
        rf"{WEBHOOK}deliveries/$", DeliveryViewSet.as_view({"get": "list"}, suffix="List"), name="webhook-deliveries"
    ),
    re_path(rf"{DELIVERY}$", DeliveryViewSet.as_view({"get": "retrieve"}, suffix="Instance"), name="webhook-delivery"),
    re_path(
        rf"{DELIVERY}redeliver/$",
        DeliveryViewSet.as_view({"post": "redeliver"}, name="Redeliver"),
        name="webhook-delivery-redeliver",
    ),
]
