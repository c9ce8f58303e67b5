"""Comments app configuration."""

from django.apps import AppConfig


class CommentsConfig(AppConfig):
    name = "comments"
    verbose_name = "Comments"

    def ready(self) -> None:
        from comments import receivers  # noqa: F401  (connects the receivers)
