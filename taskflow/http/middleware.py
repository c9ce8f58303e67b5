"""Django's session middleware, standing aside for API requests that carry a bearer token.

Sessions, the session's user and messages serve the admin, the browsable API and the docs:
requests that a browser makes with its cookies. An API call with `Authorization: Bearer ...` is
authenticated by its token alone (the token's authenticator either accepts it or answers 401, and
never falls back to the session), so for it these three only cost time (bench/README.md).
Everything else, and CSRF protection for every request, keeps Django's own chain.
"""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions


def is_token_api_request(request) -> bool:
    """An API request (under /api/) that carries a bearer token."""
    return request.path_info.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer ")


class _BrowsersOnly:
    def __call__(self, request):
        if is_token_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_BrowsersOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BrowsersOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowsersOnly, messages.MessageMiddleware):
    pass
