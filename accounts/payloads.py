"""The shapes in which accounts' objects leave TaskFlow: one typed payload per shape."""

from typing import TypedDict

from accounts.models import PersonalAccessToken
from taskflow.times import datetime_text


class PersonalTokenPayload(TypedDict):
    """A personal access token, as `GET /api/auth/tokens/` lists it (never the token itself)."""

    id: int
    name: str
    scope: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None


class PersonalTokenCreatedPayload(PersonalTokenPayload):
    """A token just made: the only answer that carries `token`."""

    token: str


def personal_token_payload(token: PersonalAccessToken) -> PersonalTokenPayload:
    return {
        "id": token.pk,
        "name": token.name,
        "scope": token.scope,
        "created_at": datetime_text(token.created_at),
        "expires_at": datetime_text(token.expires_at),
        "last_used_at": datetime_text(token.last_used_at),
    }
