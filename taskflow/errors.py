"""The application's error type and its one mapping to HTTP responses.

A service that misses a row it was given, because a DELETE of the task or of its project committed
after the request read it (`ObjectDoesNotExist` from inside the service), answers 404: what the
request would have got a moment later. A request Django refuses itself (`SuspiciousOperation`,
`BadRequest`, and a `Host` header not in ALLOWED_HOSTS: taskflow.allowed_hosts) answers a 400 in
DRF's shape under /api/ (`bad_request`, handler400).
"""

from django.core.exceptions import DisallowedHost, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from taskflow.parsers import PayloadTooLarge


class ApplicationError(Exception):
    """A use case refused: services raise these, the API turns them into 4xx responses."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def response_body(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class InvalidInput(ApplicationError):
    """The request is well-formed but breaks a rule (400)."""


class AccessDenied(ApplicationError):
    """The caller can see the object but may not do this (403)."""

    status_code = status.HTTP_403_FORBIDDEN


class NotFound(ApplicationError):
    """Missing, or not visible to the caller: the two are never told apart (404)."""

    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, message: str = "Not found."):
        super().__init__(message)


class VersionMismatch(ApplicationError):
    """`If-Match` named a version that is no longer current (412); the body is the current object."""

    status_code = status.HTTP_412_PRECONDITION_FAILED

    def __init__(self, message: str, *, current):
        super().__init__(message)
        self.current = current


def exception_handler(exc, context):
    """DRF's handler, plus ApplicationError; the only place use-case errors become HTTP."""
    if isinstance(exc, VersionMismatch):
        current = context["view"].get_serializer(exc.current).data
        return Response(current, status=exc.status_code, headers={"ETag": f'"{exc.current.version}"'})
    if isinstance(exc, ApplicationError):
        return Response(exc.response_body(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ObjectDoesNotExist):
        # Selectors turn a missing object into NotFound before any service runs; a service that
        # still misses a row by its key (tasks.services._task_lock, tasks.event_counter.event_seq_next)
        # lost it to a DELETE that committed after the request read it.
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request, exception):
    """handler400: a request Django itself refused (`SuspiciousOperation`, `BadRequest`); JSON
    under /api/, elsewhere Django's own page."""
    if _is_api(request):
        detail = "Invalid Host header." if isinstance(exception, DisallowedHost) else "Bad request."
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)
