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


def personal_token_new() -> str:
    """A new token: the prefix and 32 random bytes, URL-safe."""
    return PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)


def personal_token_hash(raw: str) -> str:
    """What is stored of a personal access token: the SHA-256 of it, in hex. The token is 32
    random bytes, so a fast hash is enough (no password-hashing rounds needed to stop guessing)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def personal_token_used(*, token: PersonalAccessToken) -> None:
    """Note that `token` was just used, unless that was noted less than LAST_USED_RESOLUTION ago."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
