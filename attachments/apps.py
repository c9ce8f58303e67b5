"""Attachments app configuration."""

from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    name = "attachments"
    verbose_name = "Attachments"

    def ready(self) -> None:
        from attachments import receivers  # noqa: F401  (connects the receivers)
