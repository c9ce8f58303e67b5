"""Reads of notifications: a user only ever reads their own."""

from django.db.models import QuerySet

from accounts.authentication import user_check
from accounts.models import User
from notifications.models import Notification
from taskflow.errors import NotFound


def notification_list_for_user(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first; `unread`: only those not read yet."""
    notifications = Notification.objects.filter(user=user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-id")


def notification_get_for_user(*, user: User, notification_id: int) -> Notification:
    """One of the user's notifications; anyone else's is the same 404 as a missing one."""
    user_check(user)
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        raise NotFound()
    return notification
