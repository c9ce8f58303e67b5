"""Production mode: required secrets, and a deployment check with no warnings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TASKFLOW_")}
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "DJANGO_DEBUG"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def _production_env(**overrides: str) -> dict:
    env = {
        "TASKFLOW_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "tasks.example.com",
        "EMAIL_URL": "smtp+tls://taskflow:secret@smtp.example.com:587",
    }
    env.update(overrides)
    return env


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "EMAIL_URL"])
def test_production_refuses_to_start_without_a_required_setting(missing):
    result = _manage("check", **_production_env(**{missing: ""}))
    assert result.returncode != 0
    assert f"{missing} must be set when TASKFLOW_ENV=production" in result.stderr


def test_production_refuses_a_jwt_key_equal_to_the_secret_key():
    key = secrets.token_urlsafe(50)
    result = _manage("check", **_production_env(SECRET_KEY=key, JWT_SIGNING_KEY=key))
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in result.stderr


def test_deployment_check_has_no_warnings_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_seed_demo_refuses_to_run_in_production():
    result = _manage("seed_demo", **_production_env())
    assert result.returncode != 0
    assert "does not run in production mode" in result.stderr


def test_empty_service_urls_mean_the_embedded_defaults():
    result = _manage("shell", "--no-imports", "-c", SHOW_SERVICES, DATABASE_URL="", REDIS_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", str(ROOT / "db.sqlite3"), "locmem"]


SHOW_SERVICES = """
from django.conf import settings
print(settings.DATABASES["default"]["ENGINE"], settings.DATABASES["default"]["NAME"])
print("locmem" if "locmem" in settings.CACHES["default"]["BACKEND"] else settings.CACHES["default"]["BACKEND"])
"""
