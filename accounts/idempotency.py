"""Idempotent writes: a POST, PUT, PATCH or DELETE under /api/ sent with `Idempotency-Key` runs once
per user and key, and a repeat of it gets the first answer back, with `Idempotency-Replayed: true`.

A client that lost an answer (a timeout, a dropped connection, a server that died) sends the same
request again with the same key, to any server process: the key is in the database
(`accounts.models.IdempotentRequest`), so the write happens once and the client learns how it
went. For each keyed write of a signed-in caller, `IdempotencyMiddleware` opens one transaction
and in it:

1. **Looks the key up**, locking its row (`SELECT ... FOR UPDATE NOWAIT`):
   - a row, for the same method, path (with its query) and body: the kept answer is replayed,
     and nothing runs;
   - a row for another method, path or body: 422, and nothing runs;
   - a row older than `RETENTION` (24 hours): forgotten (deleted), as if there were none;
   - a row locked by another transaction: the key's first request is running now. 409.
2. **Claims** the key by inserting its row, so the claim is the transaction's own: no other
   request sees it before COMMIT, and a repeat's locking read of it fails at once (the 409 above).
3. **Runs** the view, and stores its answer in the row, in the same transaction. So the write and
   its kept answer commit together or not at all; `on_commit` work (publishing events) runs after
   that one commit, as before.

A request that fails takes its claim with it: a 5xx (or the view raised, or the transaction is
marked for rollback) rolls the transaction back, and so does a server process that dies, or a
connection the database loses, in the middle: the database rolls back what its connection had not
committed. The same request may be sent again at once, and runs. Every status below 500 is kept,
4xx included: a repeat of a refused request is refused the same way. Two requests with a new key at
the same instant both find no row; the second one's INSERT waits for the first one's transaction,
and is then replayed (or, if the first rolled back, runs).

On the embedded default (SQLite, whose transactions take the database's write lock at BEGIN, and
which has no row locks) a keyed write holds that lock from its lookup on, so a repeat that comes
while the first runs waits for it and is then replayed, instead of a 409.

The body is compared by a keyed digest taken while the view reads it (taskflow.http.body_digest),
never kept; a repeat reads its own body only to hash it. The views' services keep their own
transactions, as savepoints inside this one.

The key is ignored, and the request runs as without it, for anonymous requests (registration, the
token endpoints, password reset: a key is per user), for views whose answer holds credentials
(their class says `answer_holds_credentials = True`: new tokens, which TaskFlow keeps only hashed),
and for a method the route does not offer (its 405). A malformed key is a 400. Rows older than
`RETENTION` are deleted by the hourly `accounts.jobs.idempotent_requests_prune`.
"""

import hashlib
import logging
import re
from datetime import timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.authentication import request_caller
from accounts.models import IdempotentRequest, User
from taskflow.errors import lock_not_available
from taskflow.http.body_digest import body_digest_read, body_digest_watch

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# 1 to 255 visible ASCII characters (no spaces, no controls).
KEY_PATTERN = re.compile(r"[!-~]{1,255}")
# How long an answer is kept for repeats.
RETENTION = timedelta(hours=24)
# A claim's INSERT that met a row committed meanwhile looks the key up again; more than once in a
# row only if that row was forgotten in between, each time.
CLAIM_ATTEMPTS = 3
REPLAYED_HEADER = "Idempotency-Replayed"
# The headers of an answer that its replay repeats: what the views set and clients read.
# Middleware outside this one (CORS, the request id, security headers) sets its own on the replay
# as on the first answer.
KEPT_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "ETag",
    "Location",
    "X-Event-Seq",
    "Preference-Applied",
    "Retry-After",
    "Allow",
    "Vary",
    "WWW-Authenticate",
)
# Set on a view class whose answers carry credentials (accounts.api): those are never stored.
CREDENTIALS_ATTRIBUTE = "answer_holds_credentials"

MALFORMED_KEY = "Idempotency-Key must be 1 to 255 visible ASCII characters."
STILL_RUNNING = "A request with this Idempotency-Key is still running; try again later."
OTHER_REQUEST = "This Idempotency-Key was used for another request (another method, path or body)."


class IdempotencyMiddleware:
    """Keyed writes run once per user and key (the module docstring says how). Last in MIDDLEWARE,
    so that what the others add to an answer (CORS, the request id) is added to a replay too, and
    it needs the session's user for the browsable API (AuthenticationMiddleware)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if key is None or request.method not in WRITE_METHODS or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        if not _route_takes_key(request.path_info, request.method):
            return self.get_response(request)
        user = request_caller(request)
        if user is None:
            return self.get_response(request)
        if not KEY_PATTERN.fullmatch(key):
            return _error(400, MALFORMED_KEY)
        return _respond(request, self.get_response, user=user, key=key)


def _route_takes_key(path: str, method: str) -> bool:
    """Whether the view of `path` offers `method` and may keep its answer. A method it does not
    offer is its 405, with or without a key; a plain Django view answers every method itself."""
    try:
        view = resolve(path).func
    except Resolver404:
        return True
    view_class = getattr(view, "cls", None)  # DRF's views and viewsets
    if view_class is None:
        return True
    if getattr(view_class, CREDENTIALS_ATTRIBUTE, False):
        return False
    handler = method.lower()
    actions = getattr(view, "actions", None)  # a viewset's routes map methods to actions
    if actions is not None:
        return handler in actions
    return handler in view_class.http_method_names and hasattr(view_class, handler)


def _respond(request, get_response, *, user: User, key: str):
    """Answer from the key's row, or claim the key and run the request: in one transaction."""
    try:
        with transaction.atomic():
            claimed = _claim(request, user=user, key=key)
            if isinstance(claimed, HttpResponse):
                return claimed
            return _run(request, get_response, claimed)
    except _StillRunning:
        return _error(409, STILL_RUNNING)
    except _NotKept as not_kept:
        return not_kept.response


def _claim(request, *, user: User, key: str) -> IdempotentRequest | HttpResponse:
    """The row this request claimed, or the answer from the row a request before it left."""
    method, path = request.method, request.get_full_path()
    key_digest = hashlib.sha256(key.encode("ascii")).hexdigest()
    for _ in range(CLAIM_ATTEMPTS):
        existing = _locked_row(user, key_digest)
        if existing is not None and existing.created_at <= timezone.now() - RETENTION:
            existing.delete()
            existing = None
        if existing is not None:
            if (existing.method, existing.path) != (method, path):
                return _error(422, OTHER_REQUEST)
            if body_digest_read(request) != existing.body_digest:
                return _error(422, OTHER_REQUEST)
            return _replay(existing)
        claim = _claim_insert(user=user, key=key, key_digest=key_digest, method=method, path=path)
        if claim is not None:
            return claim
    raise _StillRunning()


def _run(request, get_response, claim: IdempotentRequest):
    """Run the request and keep its answer in the claimed row (inside the claim's transaction)."""
    body = body_digest_watch(request)
    response = get_response(request)
    if response.status_code >= 500 or transaction.get_rollback():
        raise _NotKept(response)
    if response.streaming:
        # No write answers with a stream; if one did, its body cannot be kept: the write stands,
        # and the key is forgotten with it (a repeat runs again).
        logger.warning("Not keeping the streamed answer of %s %s.", request.method, request.path)
        claim.delete()
        return response
    IdempotentRequest.objects.filter(pk=claim.pk).update(
        body_digest=body.finish(),
        status=response.status_code,
        headers=_kept_headers(response),
        body=response.content,
    )
    return response


class _StillRunning(Exception):
    """The key's row is locked: the transaction of the key's first request has not ended."""


class _NotKept(Exception):
    """The answer is not kept and the transaction rolls back (a 5xx, or a rollback asked for)."""

    def __init__(self, response) -> None:
        super().__init__()
        self.response = response


def _locked_row(user: User, key_digest: str) -> IdempotentRequest | None:
    """The user's row for the key, locked for this transaction; _StillRunning if another holds it."""
    try:
        with transaction.atomic():
            return (
                IdempotentRequest.objects.select_for_update(nowait=True)
                .filter(user=user, key_digest=key_digest)
                .first()
            )
    except OperationalError as error:
        if lock_not_available(error):
            raise _StillRunning() from None
        raise


def _claim_insert(*, user: User, key: str, key_digest: str, method: str, path: str) -> IdempotentRequest | None:
    """Insert the key's row, uncommitted until the request's transaction ends; None if a request
    with the same key committed its row meanwhile (its INSERT waited for that one's COMMIT)."""
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                user=user, key=key, key_digest=key_digest, method=method, path=path, created_at=timezone.now()
            )
    except IntegrityError:
        return None


def _kept_headers(response) -> list[list[str]]:
    return [[name, response[name]] for name in KEPT_HEADERS if response.has_header(name)]


def _replay(row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status)
    del response["Content-Type"]  # the kept one, if the answer had one
    for name, value in row.headers:
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)
