"""Idempotent writes: a POST, PUT, PATCH or DELETE under /api/ sent with `Idempotency-Key` runs once
per user and key, and a repeat of it gets the first answer back, with `Idempotency-Replayed: true`.

A client that lost an answer (a timeout, a dropped connection, a server that died) sends the same
request again with the same key, to any server process: the key is in the database
(`accounts.models.IdempotentRequest`), so the write happens once and the client learns how it
went. For each keyed write of a signed-in caller, `IdempotencyMiddleware`:

1. **Claims** the key: inserts its row, `running`, with a random claim token, in a transaction of
   its own, so every process sees the claim at once. If the user's key has a row already:
   - `done`, for the same method, path (with its query) and body: the kept answer is replayed,
     and nothing runs;
   - `done` or `running` for another method, path or body: 422, and nothing runs;
   - `running` for the same request: 409, it is still running; unless its claim is older than
     `CLAIM_LEASE`: then the process that claimed it died (a connection that dies takes its
     transaction with it), and the claim is taken over with an UPDATE that names the old claim
     token, so of several takers one wins;
   - older than `RETENTION` (24 hours): forgotten, and the key is claimed anew.
2. **Runs** the view inside `transaction.atomic()`, and in that transaction marks the row `done`
   with the answer, with an UPDATE that names this request's claim token. No row updated means
   another request took the claim over: the transaction rolls back, so the write does not happen
   twice, and this request answers 409. So the write and its kept answer commit together or not
   at all; `on_commit` work (publishing events) runs after that one commit, as before.
3. **Forgets** the claim when the answer is a 5xx (or the view raised, or the transaction is
   marked for rollback): the transaction rolls back and the row is deleted, so the same request
   may be sent again and run. Every other status is kept, 4xx included: a repeat of a refused
   request is refused the same way.

The body is compared by a keyed digest taken while the view reads it (taskflow.http.body_digest),
never kept; a repeat of a `done` key reads its own body only to hash it. The views' services keep
their own transactions, as savepoints inside this one. On the embedded default (SQLite, whose
transactions take the database's write lock at BEGIN) a keyed write holds that lock from the start
of its view, so writers queue behind it; and a repeat that comes while the first runs usually waits
for it there (its claim's INSERT needs that lock) and is then replayed, instead of a 409.

The key is ignored, and the request runs as without it, for anonymous requests (registration, the
token endpoints, password reset: a key is per user), for views whose answer holds credentials
(their class says `answer_holds_credentials = True`: new tokens, which TaskFlow keeps only hashed),
and for a method the route does not offer (its 405). A malformed key is a 400. Rows older than
`RETENTION` are deleted by the hourly `accounts.jobs.idempotent_requests_prune`.
"""

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.authentication import request_caller
from accounts.models import IdempotentRequest, IdempotentRequestState, User
from taskflow.http.body_digest import body_digest_read, body_digest_watch

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# 1 to 255 visible ASCII characters (no spaces, no controls).
KEY_PATTERN = re.compile(r"[!-~]{1,255}")
# How long an answer is kept for repeats.
RETENTION = timedelta(hours=24)
# A claim older than this was abandoned by a process that died. Well above any request's time:
# a proxy gives up on a request after a minute (nginx's default), and its client then retries.
CLAIM_LEASE = timedelta(minutes=2)
# A row can vanish between the failed insert and the read (a failed run forgets its claim).
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
TAKEN_OVER = "A repeat of this request took it over after it ran too long; nothing was changed by this one."
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


@dataclass(frozen=True)
class _Claim:
    """The row this request claimed, and the token that proves the claim is still its own."""

    pk: int
    token: str


def _respond(request, get_response, *, user: User, key: str):
    """Claim the key and run the request, or answer from the row that holds it."""
    method, path = request.method, request.get_full_path()
    key_digest = hashlib.sha256(key.encode("ascii")).hexdigest()
    for _ in range(CLAIM_ATTEMPTS):
        claim = _claim_insert(user=user, key=key, key_digest=key_digest, method=method, path=path)
        if claim is not None:
            return _run(request, get_response, claim)
        existing = IdempotentRequest.objects.filter(user=user, key_digest=key_digest).first()
        if existing is None:
            continue  # forgotten meanwhile: claim it again
        now = timezone.now()
        if existing.created_at <= now - RETENTION:
            _forget(existing.pk, existing.claim_token)
            continue
        if (existing.method, existing.path) != (method, path):
            return _error(422, OTHER_REQUEST)
        if existing.state == IdempotentRequestState.DONE:
            if body_digest_read(request) != existing.body_digest:
                return _error(422, OTHER_REQUEST)
            return _replay(existing)
        if existing.claimed_at > now - CLAIM_LEASE:
            return _error(409, STILL_RUNNING)
        claim = _take_over(existing)
        if claim is not None:
            logger.warning("Took over the abandoned claim of %s %s (idempotent request %s).", method, path, claim.pk)
            return _run(request, get_response, claim)
    return _error(409, STILL_RUNNING)


def _claim_insert(*, user: User, key: str, key_digest: str, method: str, path: str) -> _Claim | None:
    """Insert the key's row as `running`, committed at once; None if the user's key has a row."""
    now = timezone.now()
    token = secrets.token_hex(16)
    try:
        # Its own transaction (a savepoint only if the caller holds one, as tests do).
        with transaction.atomic():
            row = IdempotentRequest.objects.create(
                user=user,
                key=key,
                key_digest=key_digest,
                method=method,
                path=path,
                state=IdempotentRequestState.RUNNING,
                claim_token=token,
                claimed_at=now,
                created_at=now,
            )
    except IntegrityError:
        return None
    return _Claim(pk=row.pk, token=token)


def _take_over(existing: IdempotentRequest) -> _Claim | None:
    """Claim an abandoned row for this request; None if another request changed it first."""
    token = secrets.token_hex(16)
    taken = IdempotentRequest.objects.filter(
        pk=existing.pk, claim_token=existing.claim_token, state=IdempotentRequestState.RUNNING
    ).update(claim_token=token, claimed_at=timezone.now())
    return _Claim(pk=existing.pk, token=token) if taken else None


class _NotKept(Exception):
    """The answer is not kept and the transaction rolls back (a 5xx, or a rollback asked for)."""

    def __init__(self, response) -> None:
        super().__init__()
        self.response = response


class _ClaimLost(Exception):
    """Another request took the claim over while this one ran."""


def _run(request, get_response, claim: _Claim):
    """Run the request and keep its answer, in one transaction."""
    try:
        body = body_digest_watch(request)
        with transaction.atomic():
            response = get_response(request)
            if response.status_code >= 500 or transaction.get_rollback():
                raise _NotKept(response)
            if response.streaming:
                # No write answers with a stream; if one did, its body cannot be kept: the write
                # stands, and the key is forgotten with it (a repeat runs again).
                logger.warning("Not keeping the streamed answer of %s %s.", request.method, request.path)
                _forget(claim.pk, claim.token)
                return response
            kept = IdempotentRequest.objects.filter(pk=claim.pk, claim_token=claim.token).update(
                state=IdempotentRequestState.DONE,
                body_digest=body.finish(),
                status=response.status_code,
                headers=_kept_headers(response),
                body=response.content,
            )
            if not kept:
                raise _ClaimLost()
    except _NotKept as not_kept:
        _forget_after_failure(claim)
        return not_kept.response
    except _ClaimLost:
        logger.warning("A repeat took over %s %s while it ran; rolled back.", request.method, request.path)
        return _error(409, TAKEN_OVER)
    except BaseException:
        _forget_after_failure(claim)
        raise
    return response


def _kept_headers(response) -> list[list[str]]:
    return [[name, response[name]] for name in KEPT_HEADERS if response.has_header(name)]


def _forget(pk: int, token: str) -> None:
    IdempotentRequest.objects.filter(pk=pk, claim_token=token).delete()


def _forget_after_failure(claim: _Claim) -> None:
    """Forget the claim of a request that failed, so that it may be sent again; when the database
    is what failed, the claim is left to lapse (CLAIM_LEASE), and the answer stays the failure's."""
    try:
        _forget(claim.pk, claim.token)
    except DatabaseError as error:
        logger.warning("Could not forget idempotent request %s: %s: %s", claim.pk, type(error).__name__, error)


def _replay(row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status)
    del response["Content-Type"]  # the kept one, if the answer had one
    for name, value in row.headers:
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)
