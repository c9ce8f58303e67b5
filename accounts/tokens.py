"""Personal access tokens as secrets: how one is made, what is stored of it, and noting its use.

Kept apart from accounts.services because the authentication (imported by DRF's settings, before
the rest of the project) needs these and nothing else.
"""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from accounts.models import PERSONAL_TOKEN_PREFIX, PersonalAccessToken

# How stale `last_used_at` may get: it is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def personal_token_new(*, user_id: int) -> str:
    """A new token of user `user_id`: `tfp_<user id>_<32 random bytes, URL-safe>`.

    The user's id in it lets a request's first read check the token in the same query that reads
    the caller's row (accounts.authentication): a token checks in as few statements as a JWT. It
    cannot be changed to claim another user: the whole token is what is hashed and looked up.
    """
    return f"{PERSONAL_TOKEN_PREFIX}{user_id}_{secrets.token_urlsafe(32)}"


def personal_token_user_id(raw: str) -> int | None:
    """The user id a token claims (not yet checked), or None if it has no well-formed one."""
    claimed, separator, _ = raw.removeprefix(PERSONAL_TOKEN_PREFIX).partition("_")
    if not separator or not (claimed.isascii() and claimed.isdigit()) or len(claimed) > 18:
        return None
    return int(claimed)


def personal_token_hash(raw: str) -> str:
    """What is stored of a personal access token: the SHA-256 of it, in hex. The token is 32
    random bytes, so a fast hash is enough (no password-hashing rounds needed to stop guessing)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def personal_token_used(*, token: PersonalAccessToken, stale: bool | None = None) -> None:
    """Note that `token` was just used, unless that was noted less than LAST_USED_RESOLUTION ago
    (`stale`, when the query that checked the token worked it out; else from `last_used_at`)."""
    now = timezone.now()
    if stale is None:
        stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION
    if stale:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
