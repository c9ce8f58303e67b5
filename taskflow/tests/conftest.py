"""Fixtures of the taskflow tests: TaskFlow's log configuration in force, writing to a buffer."""

import io
import logging
import logging.config

import pytest
from django.conf import settings as django_settings

from taskflow.settings import logging_config


@pytest.fixture
def use_log_config():
    """`use_log_config(production=True)`: TaskFlow's log configuration in force, writing to a buffer.

    pytest's own capturing handlers stay on the root logger; the configuration of the settings
    comes back after the test.
    """
    root = logging.getLogger()

    def keep_pytest_handlers(configure) -> None:
        others = [handler for handler in root.handlers if handler.get_name() is None]
        configure()
        for handler in others:
            root.addHandler(handler)

    def use(*, production: bool) -> io.StringIO:
        buffer = io.StringIO()
        config = logging_config(production=production)
        config["handlers"]["console"]["stream"] = buffer
        keep_pytest_handlers(lambda: logging.config.dictConfig(config))
        return buffer

    yield use
    keep_pytest_handlers(lambda: logging.config.dictConfig(django_settings.LOGGING))


@pytest.fixture
def production_log(use_log_config) -> io.StringIO:
    return use_log_config(production=True)
