"""ASGI entry point: HTTP through Django, WebSocket through Channels (served by Daphne)."""

import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

from taskflow.handlers import get_threaded_asgi_application

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_threaded_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

if settings.DEBUG:
    # Local use: serve the admin's and the API docs' assets the way `runserver` does.
    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from realtime.routing import BrowserOriginValidator, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# Garbage collection: the objects made at start-up live as long as the process, so they are moved
# out of the collector's way, and the older generations are collected less often: with a thousand
# sockets per process full collections were the longest pauses in event delivery. The youngest
# generation keeps Python's size: collecting 100,000 young objects at once stopped the process for
# 40-90 ms every thousand requests or so (bench/README.md).
gc.freeze()
gc.set_threshold(2_000, 50, 100)

# Request threads get the GIL back soon after their database round trips, even while the loop is
# busy writing frames (see the setting).
sys.setswitchinterval(settings.TASKFLOW_GIL_SWITCH_INTERVAL)
