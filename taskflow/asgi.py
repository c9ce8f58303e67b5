"""ASGI entry points: HTTP through Django, WebSocket through Channels (served by Daphne or uvicorn).

`application` serves both, as the embedded default's one process does. The production topology
(README.md "Serving at scale") runs each protocol in processes of its own, with nginx routing
`/ws/` to one kind and the rest to the other: `http_application` serves HTTP and refuses WebSocket
handshakes; `websocket_application` serves `/ws/`, and over HTTP only `/healthz` and `/readyz`
(through Django, so they answer as everywhere else); any other HTTP request is answered with a
JSON 404 at once, without Django's middleware, since nginx routes none there.
Importing it only builds the applications; tuning a server process is taskflow.server_process's.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

from taskflow.http.handlers import get_threaded_asgi_application

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_threaded_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from taskflow.http.websocket_only import HealthOnlyHTTP, refuse_websocket  # noqa: E402

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

http_application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": refuse_websocket})

websocket_application = ProtocolTypeRouter(
    {
        "http": HealthOnlyHTTP(django_asgi_app),
        "websocket": application.application_mapping["websocket"],
    }
)
