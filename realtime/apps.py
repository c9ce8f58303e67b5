"""Realtime app configuration: connects the signal receivers that record events."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from realtime import signals  # noqa: F401  (connects the receivers)
