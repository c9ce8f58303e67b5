"""Board app configuration: pages and their assets, no models of their own."""

from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Board"
