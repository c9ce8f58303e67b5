"""WebSocket routes and the Origin check in front of them."""

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from realtime.consumers import ProjectEventsConsumer

websocket_urlpatterns = [path("ws/", ProjectEventsConsumer.as_asgi())]


class BrowserOriginValidator(OriginValidator):
    """Refuses a browser whose `Origin` names a host not in ALLOWED_HOSTS.

    A connection without an `Origin` header comes from a native client, not a page a browser
    loaded from another site; it is let through and must still authenticate. (Channels'
    AllowedHostsOriginValidator refuses those.)
    """

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)
