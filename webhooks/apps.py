"""Webhooks app: per-project endpoints that receive the project's events over HTTP, signed."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
