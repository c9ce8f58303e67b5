"""Rate limits on the unauthenticated account endpoints, per client IP."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class AuthEndpointThrottle(SimpleRateThrottle):
    """Counts requests per client IP and view at the rate TASKFLOW_AUTH_RATE, in the cache.

    The rate is read at request time (not class creation) so operators and tests can change it.
    Each view names its bucket with `throttle_scope`.
    """

    def __init__(self):
        # SimpleRateThrottle reads the rate in __init__ from DEFAULT_THROTTLE_RATES; ours comes later.
        pass

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", "auth")
        self.rate = settings.TASKFLOW_AUTH_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
