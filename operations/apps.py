"""Operations app: the background worker, its periodic jobs and the operator's status command."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from operations import periodic  # noqa: F401  (connects the rescheduling receiver)
