"""Routes of the notification API, included under /api/."""

from django.urls import path, re_path

from notifications.api import NotificationListView, NotificationReadView, NotificationsReadAllView
from tasks.api import ID_PATTERN

urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="notifications"),
    path("notifications/read-all/", NotificationsReadAllView.as_view(), name="notifications-read-all"),
    re_path(
        rf"^notifications/(?P<notification_id>{ID_PATTERN})/read/$",
        NotificationReadView.as_view(),
        name="notification-read",
    ),
]
