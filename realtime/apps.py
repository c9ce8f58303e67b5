"""Realtime app configuration: connects the receivers of the domain signals that record events."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from realtime import receivers  # noqa: F401  (connects the receivers)
