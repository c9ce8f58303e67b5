"""Tasks app configuration."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Projects and tasks"

    def ready(self) -> None:
        from tasks import receivers  # noqa: F401  (connects the receivers)
