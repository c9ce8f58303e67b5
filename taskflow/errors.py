"""The application's error type and its one mapping to HTTP responses, failures included.

What each failure answers, and where that is decided:

- A use case refused (`ApplicationError`): its 400, 403, 404 or 412 (`exception_handler`); a 412
  carries the current object, alone or, for a merge's conflict, with the fields that conflict.
- The row a service works on was deleted meanwhile, by a racing DELETE of the task or of its
  project (`ObjectDoesNotExist` raised inside a service): 404, as if the request had come a
  moment later (`exception_handler`).
- The database cannot be reached (connection refused or lost, server gone or shutting down, too
  many connections): 503 with `Retry-After: 5`. The transaction did not commit, so it recorded no
  event either. Django drops the failed connection when the request ends and the next request
  connects again, so the process recovers by itself once the database is back. Decided by
  `exception_handler` in API views, and by `server_error` (handler500) for anything outside
  them, such as middleware reading a browser's session.
- The database gave up on a transaction (deadlock, lock wait timeout, SQLite's "database is
  locked"): 503 with `Retry-After: 1`, in the same two places. Not a 409: nothing conflicts with
  what the client asked for, nothing was committed, and the same request may simply be sent
  again. Retrying inside the server would mean running the whole transaction again, which is the
  services' business, not the error mapping's.
- Any other exception no view handled, under `/api/`: a 500 in DRF's shape, never an HTML page
  (`server_error`).
- A `Host` header not in `ALLOWED_HOSTS`: 400, JSON under `/api/`, logged as a WARNING
  (taskflow.allowed_hosts).
- A request body over `TASKFLOW_MAX_BODY_BYTES`, declared by `Content-Length` or growing past it
  while it arrives: 413, without reading the rest (taskflow.http.handlers).
- Other requests Django refuses itself (`SuspiciousOperation`, `BadRequest`): 400, JSON under
  `/api/` (`bad_request`, handler400).

`/readyz` answers 503 naming the database while it is unreachable (taskflow.health). Client
mistakes (4xx) are logged as warnings without a traceback (taskflow.log_levels): they say
nothing about the server's health.

Connection-level failures are told apart from others by the driver's error code, not by the
exception's class: MySQLdb raises OperationalError for a lost connection and for an unknown
column alike, and only the first is the database being away (the second is a bug: a 500).
"""

import logging
import sqlite3
import sys

from django.core.exceptions import DisallowedHost, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from taskflow.http.parsers import PayloadTooLarge

logger = logging.getLogger(__name__)


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

    def response_body_with(self, current: dict) -> dict:
        """The 412's body, given the current object as the API renders it."""
        return current


class VersionConflict(VersionMismatch):
    """A merge (`Prefer: merge`) on a stale `If-Match` found the fields it changes changed since
    (412); the body names them, with the current object."""

    def __init__(self, message: str, *, current, conflicts: list[str]):
        super().__init__(message, current=current)
        self.conflicts = conflicts

    def response_body_with(self, current: dict) -> dict:
        return {"detail": self.message, "conflicts": self.conflicts, "current": current}


# Seconds a client is asked to wait: the database being away lasts a while (a restart, a
# failover); a transaction it gave up on can be sent again at once.
DATABASE_UNAVAILABLE_RETRY_SECONDS = 5
DATABASE_BUSY_RETRY_SECONDS = 1

# MySQL / MariaDB error codes (MySQLdb.constants.CR and ER) that mean the connection, or the
# server, is gone: can't connect (2002, 2003), unknown host (2005), gone away (2006), lost
# (2013, 2055), handshake failed (2012), too many connections (1040, 1203), shutting down (1053),
# connection aborted or killed (1152, 1927), network read and write errors (1158-1161), MySQL 8's
# idle-client timeout (4031).
_MYSQL_UNAVAILABLE = frozenset(
    {2002, 2003, 2005, 2006, 2012, 2013, 2055, 1040, 1203, 1053, 1152, 1927, 1158, 1159, 1160, 1161, 4031}
)
# Deadlock victim (1213) and lock wait timeout (1205): the transaction was rolled back.
_MYSQL_BUSY = frozenset({1205, 1213})
# A locking read with NOWAIT met a row another transaction holds: MySQL's ER_LOCK_NOWAIT (3572);
# MariaDB answers it with its lock wait timeout (1205), at once.
_MYSQL_LOCK_NOT_AVAILABLE = frozenset({3572, 1205})
# SQLite (the embedded default): what sqlite3 says when the file cannot be used at all.
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error")


class ServiceUnavailable(exceptions.APIException):
    """503: the database is away or gave up; `wait` becomes `Retry-After` (DRF's handler)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is unavailable; try again later."
    default_code = "service_unavailable"

    def __init__(self, detail: str, *, wait: int):
        super().__init__(detail)
        self.wait = wait


def database_failure(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a database error that is not the request's fault nor a bug; None for others."""
    if isinstance(exc, InterfaceError):
        # The driver's connection object is closed or broken: nothing can be sent on it.
        return _database_unavailable()
    if not isinstance(exc, OperationalError):
        return None
    cause = exc.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        message = str(cause).lower()
        if "database is locked" in message:
            return _database_busy()
        if message.startswith(_SQLITE_UNAVAILABLE):
            return _database_unavailable()
        return None
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code in _MYSQL_UNAVAILABLE:
        return _database_unavailable()
    if code in _MYSQL_BUSY:
        return _database_busy()
    return None


def lock_not_available(exc: OperationalError) -> bool:
    """Whether `exc` is a `SELECT ... FOR UPDATE NOWAIT` finding its row locked by another
    transaction (only MySQL and MariaDB: SQLite has no row locks, and Django sends it no FOR UPDATE)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in _MYSQL_LOCK_NOT_AVAILABLE


def _database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is unavailable; try again later.", wait=DATABASE_UNAVAILABLE_RETRY_SECONDS)


def _database_busy() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database was too busy to finish this request; send it again.", wait=DATABASE_BUSY_RETRY_SECONDS
    )


def exception_handler(exc, context):
    """DRF's handler, plus ApplicationError and the failures listed above; the only
    place errors raised in API views become HTTP."""
    if isinstance(exc, VersionMismatch):
        current = context["view"].get_serializer(exc.current).data
        return Response(
            exc.response_body_with(current), status=exc.status_code, headers={"ETag": f'"{exc.current.version}"'}
        )
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
    elif (unavailable := database_failure(exc)) is not None:
        logger.warning("Answering 503: %s", _describe(exc))
        exc = unavailable
    return drf_exception_handler(exc, context)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def server_error(request):
    """handler500: what Django answers for an exception no view handled (middleware included).

    A database failure is the same 503 as in the API's views; anything else under /api/ is a 500
    in DRF's shape, elsewhere Django's own page. Django calls this while it handles the
    exception, so `sys.exc_info()` holds it (with DEBUG on it shows its debug page instead).
    """
    unavailable = database_failure(sys.exc_info()[1])
    if unavailable is not None:
        headers = {"Retry-After": str(unavailable.wait)}
        if _is_api(request):
            return JsonResponse({"detail": unavailable.detail}, status=unavailable.status_code, headers=headers)
        return HttpResponse(
            unavailable.detail, content_type="text/plain", status=unavailable.status_code, headers=headers
        )
    if _is_api(request):
        return JsonResponse({"detail": exceptions.APIException.default_detail}, status=500)
    return defaults.server_error(request)


def bad_request(request, exception):
    """handler400: a request Django itself refused (`SuspiciousOperation`, `BadRequest`); JSON
    under /api/, elsewhere Django's own page."""
    if _is_api(request):
        detail = "Invalid Host header." if isinstance(exception, DisallowedHost) else "Bad request."
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)
