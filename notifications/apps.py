"""Notifications app: due-date reminders, delivered on the WebSocket and by email."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import receivers  # noqa: F401  (connects the receivers)
