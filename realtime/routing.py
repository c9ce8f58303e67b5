"""WebSocket routes and the Origin check in front of them."""

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from realtime.consumers import ProjectEventsConsumer

websocket_urlpatterns = [path("ws/", ProjectEventsConsumer.as_asgi())]


class BrowserOriginValidator(OriginValidator):
    """Refuses a browser whose `Origin` is neither a host in ALLOWED_HOSTS nor one of
    CORS_ALLOWED_ORIGINS (the pages allowed to call the API are allowed to open sockets too).

    A connection without an `Origin` header comes from a native client, not a page a browser
    loaded from another site; it is let through and must still authenticate. (Channels'
    AllowedHostsOriginValidator refuses those.) A CORS origin names a scheme, so Channels matches
    it by scheme, host and port; an allowed host matches whatever the scheme and port.
    """

    def __init__(self, application):
        self.application = application

    @property
    def allowed_origins(self) -> list[str]:
        # Read when a socket connects, not when the application is built: settings stay settings.
        return [*settings.ALLOWED_HOSTS, *settings.CORS_ALLOWED_ORIGINS]

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)
