"""The one place a request's bearer token is authenticated, for the API and the WebSockets:
simplejwt's JWTs (with a faster user lookup), and personal access tokens (`tfp_...`)."""

import threading
import time
from collections import OrderedDict

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import PERSONAL_TOKEN_PREFIX, PersonalAccessToken, User
from accounts.selectors import personal_token_of_active_user, user_by_id
from accounts.tokens import personal_token_hash, personal_token_used


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
    (`personal_token_authenticate`): then `request.auth` is the PersonalAccessToken, whose scope
    the permission checks (accounts.permissions).
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
    """The user of a personal access token and the token; AuthenticationFailed (401) unless it is
    a token that exists (not revoked), has not expired, and belongs to an active user.

    One query reads the token with its user's `is_active`, so the user needs no check of its own
    (the same number of statements as a JWT's check); `last_used_at` is written at most once a
    minute (accounts.tokens.personal_token_used).
    """
    token = personal_token_of_active_user(personal_token_hash(raw)) if len(raw) <= 256 else None
    if token is None:
        raise AuthenticationFailed(_("Unknown or revoked personal access token."), code="token_not_valid")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise AuthenticationFailed(_("The personal access token has expired."), code="token_not_valid")
    personal_token_used(token=token)
    # Only the id is loaded; other fields load on use. Active: the query joined the row on it.
    user = User.from_db(DEFAULT_DB_ALIAS, ["id"], [token.user_id])
    return user, token


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
    """Finish authenticating a user taken from a token: simplejwt's checks, one query.

    Raises AuthenticationFailed (401); afterwards the user's fields are loaded. Anything else
    (a user checked already, a session's user, the anonymous user) passes as it is.
    """
    token = user.__dict__.pop(_UNCHECKED, None)
    if token is None:
        return
    checked = _authentication.get_user(token)
    for field in User._meta.concrete_fields:
        setattr(user, field.attname, getattr(checked, field.attname))


def user_check_by_row(user, *, password: str) -> None:
    """Finish authenticating a user taken from a token, from a row a view's query read for it.

    For queries that join the user's row on its id and `is_active` (so the row exists only for an
    active user) and read its `password`: what remains of simplejwt's checks is the revoke claim.
    """
    token = user.__dict__.pop(_UNCHECKED, None)
    if token is not None:
        _check_revoke_claim(token, password=password)


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI description of this authentication: simplejwt's bearer scheme."""

    target_class = "accounts.authentication.BearerAuthentication"

    def get_security_definition(self, auto_schema):
        definition = super().get_security_definition(auto_schema)
        definition["description"] = (
            "An access token from `/api/auth/token/` (a JWT, 5 minutes), or a personal access token from "
            "`/api/auth/tokens/` (`tfp_...`)."
        )
        return definition


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
