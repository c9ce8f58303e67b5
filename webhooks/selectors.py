"""Reads of webhook endpoints and deliveries, scoped to the projects whose webhooks the caller manages."""

import uuid

from django.db.models import F, QuerySet

from accounts.models import User
from taskflow.db.rows import fetch_value, sql
from taskflow.errors import AccessDenied, NotFound
from tasks.models import PROJECT_EDITORS, Project
from tasks.selectors import project_get_for_user
from webhooks.models import WebhookDelivery, WebhookEndpoint


def project_get_for_webhooks(*, user: User, project_id: int) -> Project:
    """A project whose webhooks `user` manages, annotated with `role`.

    Webhooks carry every change of the project to a third party and hold signing secrets, so only
    owners and admins see them: other members get 403; anyone else the usual 404.
    """
    project = project_get_for_user(user=user, project_id=project_id)
    if project.role not in PROJECT_EDITORS:
        raise AccessDenied("Only the project's owner and admins manage its webhooks.")
    return project


def endpoint_list(*, project: Project) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(project=project).order_by("id")


def endpoint_get(*, project: Project, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of `project`, whose `project` is the given (role-annotated) instance; else 404."""
    try:
        endpoint = endpoint_list(project=project).get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound() from None
    endpoint.project = project
    return endpoint


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-seq")


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: str | uuid.UUID) -> WebhookDelivery:
    """One delivery of `endpoint` (a malformed id is simply not found); its `endpoint` is the given one."""
    try:
        delivery = delivery_list(endpoint=endpoint).get(pk=uuid.UUID(str(delivery_id)))
    except (ValueError, WebhookDelivery.DoesNotExist):
        raise NotFound() from None
    delivery.endpoint = endpoint
    return delivery


def project_has_active_endpoint(*, project_id: int) -> bool:
    """Whether any active endpoint listens to the project (one indexed query).

    Every recorded event asks, so the statement is written out (taskflow.db.rows).
    """
    return fetch_value(sql(_ACTIVE_ENDPOINT, endpoint=WebhookEndpoint), [project_id, True]) is not None


_ACTIVE_ENDPOINT = "SELECT 1 FROM {endpoint} WHERE project_id = %s AND is_active = %s LIMIT 1"


def projects_with_endpoints_behind() -> list[int]:
    """Projects with an active endpoint whose cursor is behind the project's latest event (one query)."""
    return list(
        WebhookEndpoint.objects.filter(is_active=True, last_seq__lt=F("project__event_seq"))
        .order_by()
        .values_list("project_id", flat=True)
        .distinct()
    )
