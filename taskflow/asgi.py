"""ASGI entry point: HTTP through Django, WebSocket through Channels (served by Daphne or uvicorn).

Importing it only builds the application; tuning a server process is taskflow.server_process's.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

from taskflow.http.handlers import get_threaded_asgi_application

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
