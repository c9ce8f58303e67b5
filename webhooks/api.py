"""Webhook endpoints of a project and their delivery logs: validate input, call a service or selector, render.

`/api/projects/{project_id}/webhooks/[{webhook_id}/[deliveries/[{delivery_id}/[redeliver/]]]]`; only
the project's owner and admins get past `selectors.project_get_for_webhooks`.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from taskflow.openapi import error_response
from webhooks import selectors, services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    WebhookCreatedSerializer,
    WebhookSerializer,
)

# Reads are refused too: only the owner and admins see a project's webhooks (writes get the 403
# of every write from the schema's generic errors).
NOT_A_MANAGER = error_response("The caller is a member of the project but not its owner or an admin.")


@extend_schema(tags=["webhooks"])
@extend_schema_view(
    list=extend_schema(responses={200: WebhookSerializer, 403: NOT_A_MANAGER}),
    retrieve=extend_schema(responses={200: WebhookSerializer, 403: NOT_A_MANAGER}),
)
class WebhookViewSet(viewsets.GenericViewSet):
    """A project's webhook endpoints."""

    serializer_class = WebhookSerializer
    queryset = WebhookEndpoint.objects.none()  # for the schema; requests use get_queryset()

    def get_project(self):
        return selectors.project_get_for_webhooks(user=self.request.user, project_id=int(self.kwargs["project_id"]))

    def get_queryset(self):
        return selectors.endpoint_list(project=self.get_project())

    def get_object(self):
        return selectors.endpoint_get(project=self.get_project(), endpoint_id=int(self.kwargs["webhook_id"]))

    def list(self, request, project_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(request=WebhookSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request, project_id):
        project = self.get_project()
        serializer = WebhookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(project=project, actor=request.user, **serializer.validated_data)
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, project_id, webhook_id):
        return Response(WebhookSerializer(self.get_object()).data)

    def partial_update(self, request, project_id, webhook_id):
        endpoint = self.get_object()
        serializer = WebhookSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, actor=request.user, data=serializer.validated_data)
        return Response(WebhookSerializer(endpoint).data)

    def destroy(self, request, project_id, webhook_id):
        services.endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"])
@extend_schema_view(list=extend_schema(responses={200: DeliverySerializer, 403: NOT_A_MANAGER}))
class DeliveryViewSet(viewsets.GenericViewSet):
    """The delivery log of one endpoint, newest first, and redelivery."""

    serializer_class = DeliverySerializer
    queryset = WebhookDelivery.objects.none()  # for the schema; requests use get_queryset()

    def get_endpoint(self):
        project = selectors.project_get_for_webhooks(user=self.request.user, project_id=int(self.kwargs["project_id"]))
        return selectors.endpoint_get(project=project, endpoint_id=int(self.kwargs["webhook_id"]))

    def get_queryset(self):
        return selectors.delivery_list(endpoint=self.get_endpoint())

    def get_object(self):
        return selectors.delivery_get(endpoint=self.get_endpoint(), delivery_id=self.kwargs["delivery_id"])

    def list(self, request, project_id, webhook_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(responses={200: DeliveryDetailSerializer, 403: NOT_A_MANAGER})
    def retrieve(self, request, project_id, webhook_id, delivery_id):
        return Response(DeliveryDetailSerializer(self.get_object()).data)

    @extend_schema(
        request=None,
        responses={202: DeliveryDetailSerializer, 400: error_response("The webhook is switched off.")},
    )
    def redeliver(self, request, project_id, webhook_id, delivery_id):
        """Send the delivery's event again, as a new delivery (new id, signed anew), queued now."""
        redelivery = services.delivery_redeliver(delivery=self.get_object(), actor=request.user)
        return Response(DeliveryDetailSerializer(redelivery).data, status=status.HTTP_202_ACCEPTED)
