"""Liveness (`/healthz`) and readiness (`/readyz`) of this process and the services it needs."""

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


@never_cache
@require_GET
def healthz(request):
    """The process is up and serving; touches no other service."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """200 when the database, cache and channel layer all answer; else 503 naming what is down."""
    checks = {
        "database": _check(_database),
        "cache": _check(_cache),
        "channel_layer": _check(_channel_layer),
    }
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:
        logger.warning("Readiness check %s failed: %s", probe.__name__.strip("_"), exc)
        return "unavailable"
    return "ok"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    # django-redis is set to swallow errors, so a round trip is the only proof Redis answers.
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise ConnectionError("cache did not return what was stored")
    cache.delete(key)


def _channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise ConnectionError("no channel layer configured")

    async def probe() -> None:
        await asyncio.wait_for(layer.group_send("readyz", {"type": "readyz.probe"}), CHECK_TIMEOUT_SECONDS)

    async_to_sync(probe)()
