"""A request whose `Host` header is not in ALLOWED_HOSTS is answered 400 before anything uses it.

Django checks the host only when something asks for it (`request.get_host()`: CommonMiddleware
for every request, the CSRF check, absolute URLs), and answers a refused one through its handling
of `SuspiciousOperation`: an HTML page (the debug page when DEBUG is on) and an ERROR with a
traceback on the `django.security.DisallowedHost` logger. A client that sends a wrong host is
not a server error: here the host is checked once, first, and the request gets a 400 in DRF's
shape under /api/ (Django's own 400 page elsewhere), with a WARNING on the same logger, which is
where Django's documentation tells operators to look for, or silence, these.
"""

import logging

from django.core.exceptions import DisallowedHost

from taskflow.errors import bad_request

logger = logging.getLogger("django.security.DisallowedHost")


class AllowedHostsMiddleware:
    """Refuses a request whose host is not allowed; place it before anything that asks for the host."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost as exc:
            response = bad_request(request, exc)
            logger.warning(str(exc), extra={"status_code": response.status_code, "request": request})
            return response
        return self.get_response(request)
