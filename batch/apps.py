"""Batch app configuration: no models of its own; it composes the task and comment writes."""

from django.apps import AppConfig


class BatchConfig(AppConfig):
    name = "batch"
    verbose_name = "Batches"
