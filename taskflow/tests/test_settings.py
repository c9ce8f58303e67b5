"""Production mode: required secrets, and a deployment check with no warnings."""

import json
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


SHOW_REDIS = """
import json
from django.conf import settings
from django.core.cache import cache
pool = cache.client.get_client().connection_pool
print(json.dumps({
    "cache_pool": type(pool).__name__,
    "cache_master": getattr(pool, "service_name", None),
    "layer_hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
}))
"""


def test_redis_sentinels_name_the_master_of_the_cache_and_the_channel_layer():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW_REDIS,
        REDIS_URL="redis://tasks-master/2",
        REDIS_SENTINELS="10.0.0.1:26379, sentinel-b:26380",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["cache_pool"] == "SentinelConnectionPool"
    assert shown["cache_master"] == "tasks-master"
    sentinels = [["10.0.0.1", 26379], ["sentinel-b", 26380]]
    assert shown["layer_hosts"] == [{"master_name": "tasks-master", "sentinels": sentinels, "db": 2}]


def test_channel_layer_urls_shard_the_channel_layer():
    shards = ["redis://10.0.0.5:6379/0", "redis://10.0.0.6:6379/0"]
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW_REDIS,
        REDIS_URL="redis://10.0.0.4:6379/0",
        CHANNEL_LAYER_URLS=",".join(shards),
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["cache_pool"] == "ConnectionPool"
    assert shown["layer_hosts"] == shards


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_URL": "redis://m/0", "REDIS_SENTINELS": "sentinel-without-port"}, "is not host:port"),
        ({"REDIS_URL": "", "REDIS_SENTINELS": "10.0.0.1:26379"}, "REDIS_SENTINELS needs REDIS_URL"),
    ],
)
def test_redis_sentinel_settings_that_cannot_work_stop_the_start(env, message):
    result = _manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr
