"""The one place a request's credentials are authenticated, for the API and the WebSockets:
simplejwt's JWTs (with a faster user lookup), personal access tokens (`tfp_...`), and the browser
session that the board's page trades for an access token."""

import threading
import time
from collections import OrderedDict

from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import PERSONAL_TOKEN_PREFIX, PersonalAccessToken, User
from accounts.selectors import personal_token_of_active_user, user_by_id
from accounts.tokens import LAST_USED_RESOLUTION, personal_token_hash, personal_token_used, personal_token_user_id


class BearerAuthentication(authentication.JWTAuthentication):
    """simplejwt's JWTAuthentication, reading the user with one hand-written query, and verifying
    each token's signature once per process.

    Every API request authenticates, and building the ORM query cost more than running it
    (bench/README.md). The checks are simplejwt's: the token is valid and not expired, the user
    exists and is active, and the token was issued since the last password change (its revoke
    claim). Only the signature check of a token already verified here is skipped: the same bytes
    carry the same signature; expiry and the user are checked on every request.

    An API request gets the user its token claims, checked against the database before the view
    does anything, by the IsAuthenticated permission (accounts.permissions): by the view's first
    read when that query joins the user's row (`user_check_by_row`: one statement fewer), else
    with a query of its own (`user_check`).

    A bearer token that starts with `tfp_` is a personal access token instead
    (`personal_token_authenticate`), checked the same way: then `request.auth` is the
    PersonalAccessToken, whose scope the permission checks once it is (accounts.permissions).
    """

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        if raw_token.startswith(PERSONAL_TOKEN_PREFIX.encode()):
            return personal_token_authenticate(raw_token.decode("latin-1"))
        validated_token = self.get_validated_token(raw_token)
        return _claimed_user(validated_token), validated_token

    def get_validated_token(self, raw_token: bytes) -> Token:
        token, expires_at = _verified.get(raw_token, (None, 0))
        if token is None or expires_at <= time.time():
            token = super().get_validated_token(raw_token)
            expires_at = token.get("exp", 0)
            _verified.put(raw_token, (token, expires_at))
        return token

    def get_user(self, validated_token: Token) -> User:
        user = user_by_id(_claimed_user_id(validated_token))
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        _check_revoke_claim(validated_token, password=user.password)
        return user


def personal_token_authenticate(raw: str) -> tuple[User, PersonalAccessToken]:
    """The user a personal access token claims (`tfp_<user id>_...`) and the token, not yet
    checked: like a JWT's user, they are checked before the view runs, by its first read when that
    query can join the token (`caller_token_sql`), else by `user_check` with a query of its own.
    Either way it is one statement, as for a JWT. AuthenticationFailed (401) for a token that
    claims no user.
    """
    user_id = personal_token_user_id(raw) if len(raw) <= 256 else None
    if user_id is None:
        raise AuthenticationFailed(_UNKNOWN_TOKEN, code="token_not_valid")
    token = PersonalAccessToken(user_id=user_id, key_hash=personal_token_hash(raw))
    # Only the id is loaded; other fields load on use, once the check let the request through.
    user = User.from_db(DEFAULT_DB_ALIAS, ["id"], [user_id])
    setattr(user, _UNCHECKED, token)
    return user, token


def personal_token_check(raw: str) -> PersonalAccessToken:
    """A personal access token checked now (for the WebSocket's sign-in), with all its fields;
    AuthenticationFailed (401) unless it exists, has not expired and its user is active."""
    user, token = personal_token_authenticate(raw)
    user_check(user)
    return token


_UNKNOWN_TOKEN = _("Unknown or revoked personal access token.")
_EXPIRED_TOKEN = _("The personal access token has expired.")


def _personal_token_check(token: PersonalAccessToken) -> None:
    """Check an unchecked token with a query of its own (the token joined with its active user),
    and load its fields."""
    row = personal_token_of_active_user(token.key_hash)
    if row is None or row.user_id != token.user_id:
        raise AuthenticationFailed(_UNKNOWN_TOKEN, code="token_not_valid")
    if row.expires_at is not None and row.expires_at <= timezone.now():
        raise AuthenticationFailed(_EXPIRED_TOKEN, code="token_not_valid")
    token.__dict__.update({field.attname: getattr(row, field.attname) for field in PersonalAccessToken._meta.fields})
    token._state.adding, token._state.db = False, row._state.db
    personal_token_used(token=token)


def caller_token_sql(user) -> tuple[str, list, str, list]:
    """What a view's first read adds to check the personal access token its caller came with:
    columns for the select list and their parameters, a join on the caller's row (aliased `u`)
    and its parameters. Empty for any other caller. `{token}` in the join is the token table.

    The columns are `token_id` (null: no such token of this user), `token_scope`, `token_alive`
    (not expired) and `token_stale` (`last_used_at` due to be written); give them, in that order,
    to `user_check_by_row`.
    """
    token = user.__dict__.get(_UNCHECKED)
    if not isinstance(token, PersonalAccessToken):
        return "", [], "", []
    now = timezone.now()
    at = PersonalAccessToken._meta.get_field("expires_at")
    return (
        _TOKEN_COLUMNS,
        [at.get_db_prep_value(now, connection), at.get_db_prep_value(now - LAST_USED_RESOLUTION, connection)],
        _TOKEN_JOIN,
        [token.key_hash],
    )


_TOKEN_COLUMNS = (
    ", pt.id AS token_id, pt.scope AS token_scope, (pt.expires_at IS NULL OR pt.expires_at > %s) AS token_alive,"
    " (pt.last_used_at IS NULL OR pt.last_used_at < %s) AS token_stale"
)
_TOKEN_JOIN = " LEFT JOIN {token} pt ON pt.user_id = u.id AND pt.key_hash = %s"


def is_personal_token(auth) -> bool:
    """Whether a request's `auth` (what authenticated it) is a personal access token."""
    return isinstance(auth, PersonalAccessToken)


def _claimed_user_id(validated_token: Token) -> int:
    try:
        return int(validated_token[api_settings.USER_ID_CLAIM])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidToken(_("Token contained no recognizable user identification")) from error


def _check_revoke_claim(validated_token: Token, *, password: str) -> None:
    if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
        api_settings.REVOKE_TOKEN_CLAIM
    ) != get_md5_hash_password(password):
        raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")


# The attribute of a user taken from a token's claims that holds the token until the user is checked.
_UNCHECKED = "unchecked_token"


def _claimed_user(validated_token: Token) -> User:
    """The user a token claims to be: its id only (the other fields load on use), not yet checked."""
    user = User.from_db(DEFAULT_DB_ALIAS, ["id"], [_claimed_user_id(validated_token)])
    setattr(user, _UNCHECKED, validated_token)
    return user


def user_check(user) -> None:
    """Finish authenticating a user taken from a token: simplejwt's checks for a JWT, the token's
    for a personal access token; one query.

    Raises AuthenticationFailed (401); afterwards a JWT's user has its fields loaded, a personal
    access token its own. Anything else (a user checked already, a session's user, the anonymous
    user) passes as it is.
    """
    token = user.__dict__.pop(_UNCHECKED, None)
    if token is None:
        return
    if isinstance(token, PersonalAccessToken):
        _personal_token_check(token)
        return
    checked = _authentication.get_user(token)
    for field in User._meta.concrete_fields:
        setattr(user, field.attname, getattr(checked, field.attname))


def user_check_by_row(user, *, password: str, token_columns: tuple = (None, None, None, None)) -> None:
    """Finish authenticating a user taken from a token, from a row a view's query read for it.

    For queries that join the user's row on its id and `is_active` (so the row exists only for an
    active user) and read its `password`: what remains of simplejwt's checks is the revoke claim.
    A personal access token's check is the columns `caller_token_sql` added to the query.
    """
    token = user.__dict__.pop(_UNCHECKED, None)
    if token is None:
        return
    if isinstance(token, PersonalAccessToken):
        token_id, scope, alive, stale = token_columns
        if token_id is None:
            raise AuthenticationFailed(_UNKNOWN_TOKEN, code="token_not_valid")
        if not alive:
            raise AuthenticationFailed(_EXPIRED_TOKEN, code="token_not_valid")
        token.pk, token.scope = token_id, scope
        token._state.adding = False
        personal_token_used(token=token, stale=bool(stale))
        return
    _check_revoke_claim(token, password=password)


def request_caller(request) -> User | None:
    """The signed-in caller of a Django request, before any view runs, checked as the API checks
    its views' callers: a bearer token through BearerAuthentication and `user_check`, else the
    session's user (the browsable API). None for an anonymous request, and for credentials the API
    refuses (the view then answers 401 itself). For middleware that needs the caller
    (accounts.idempotency): this is the same authentication, not a second one.
    """
    try:
        authenticated = _authentication.authenticate(request)
        if authenticated is not None:
            user = authenticated[0]
            user_check(user)
            return user
    except AuthenticationFailed:
        return None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class _DescribedScheme:
    """An OpenAPI security scheme (drf-spectacular's extension) with TaskFlow's description of it."""

    description = ""

    def get_security_definition(self, auto_schema):
        return {**super().get_security_definition(auto_schema), "description": self.description}


class JWTScheme(_DescribedScheme, SimpleJWTScheme):
    """The OpenAPI description of this authentication: simplejwt's bearer scheme."""

    target_class = "accounts.authentication.BearerAuthentication"
    description = (
        "An access token from `/api/auth/token/` (a JWT, 5 minutes), or a personal access token from "
        "`/api/auth/tokens/` (`tfp_...`)."
    )


class BrowserSessionAuthentication(SessionAuthentication):
    """A Django session, signed in on TaskFlow's own pages (the board's sign-in form), for the one
    endpoint that trades it for an access token (accounts.api.SessionTokenView): the page's scripts
    then call the API and the WebSocket with that token, like any other client.

    DRF's SessionAuthentication, so a POST must pass Django's CSRF check (403 otherwise): another
    site's page cannot make a signed-in browser mint a token. The session's user is the one Django's
    AuthenticationMiddleware loaded, which checks the session against the user's password hash and
    `is_active`, so a password change or a deactivation ends it. A request with a bearer token has
    no session here at all (taskflow.http.middleware skips sessions for those), so a token can never
    be traded for a fresh one this way.
    """


class BrowserSessionScheme(_DescribedScheme, SessionScheme):
    """The OpenAPI description of the browser session: Django's session cookie, and the CSRF token."""

    target_class = "accounts.authentication.BrowserSessionAuthentication"
    name = "browserSession"
    description = (
        "The session cookie of a sign-in on TaskFlow's own pages (`/login/`); a POST also sends the page's "
        "CSRF token in `X-CSRFToken`."
    )


class _VerifiedTokens:
    """The tokens this process verified lately, least recently used dropped first (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.tokens: OrderedDict[bytes, tuple[Token, float]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, raw_token: bytes, default):
        with self.lock:
            entry = self.tokens.get(raw_token)
            if entry is not None:
                self.tokens.move_to_end(raw_token)
            return entry or default

    def put(self, raw_token: bytes, entry: tuple[Token, float]) -> None:
        with self.lock:
            self.tokens[raw_token] = entry
            self.tokens.move_to_end(raw_token)
            while len(self.tokens) > self.size:
                self.tokens.popitem(last=False)


_verified = _VerifiedTokens(size=4096)


_authentication = BearerAuthentication()
