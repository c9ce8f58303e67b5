"""Notification endpoints: `/api/notifications/`, `/api/notifications/{id}/read/` and
`/api/notifications/read-all/`. Each user sees and marks only their own."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import Notification
from notifications.serializers import NotificationQuerySerializer, NotificationSerializer


@extend_schema(parameters=[NotificationQuerySerializer])
class NotificationListView(generics.ListAPIView):
    """The caller's notifications, newest first, a page at a time; `?unread=true` for the unread ones."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        # A plain dict, not the QueryDict: DRF takes an empty value in form data for a missing one,
        # and `?unread=` is neither of the two documented values (400).
        query = NotificationQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        unread = query.validated_data.get("unread") == "true"
        return selectors.notification_list_for_user(user=self.request.user, unread=unread)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class NotificationReadView(APIView):
    """Mark one of the caller's notifications read."""

    def caller_read(self) -> None:
        self.notification = selectors.notification_get_for_user(
            user=self.request.user, notification_id=int(self.kwargs["notification_id"])
        )

    @extend_schema(request=None, responses={204: None})
    def post(self, request, notification_id):
        services.notification_read(notification=self.notification)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationsReadAllView(APIView):
    """Mark every unread notification of the caller's read."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.notifications_read_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
