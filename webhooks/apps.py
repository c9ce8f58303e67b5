"""Webhooks app: per-project endpoints that receive the project's events over HTTP, signed."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from webhooks import signals  # noqa: F401  (connects the dispatch trigger)
