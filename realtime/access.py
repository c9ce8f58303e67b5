"""Database reads of the WebSocket consumer, run in threads through database_sync_to_async."""

from channels.db import database_sync_to_async
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.authentication import BearerAuthentication, personal_token_check
from accounts.models import PERSONAL_TOKEN_PREFIX, PersonalAccessToken, User
from accounts.selectors import user_by_id
from realtime.events import event_message
from realtime.models import Event
from tasks.models import Membership, Project, Task

_jwt = BearerAuthentication()


@database_sync_to_async
def identity_for_token(raw) -> tuple[User, float | None, int | None] | None:
    """Who a bearer token is, when it expires (None: never) and, for a personal access token, its
    id; None if it is not valid.

    The same checks as the REST API (accounts.authentication): for a JWT its signature, expiry,
    type, an active user, and that the password has not changed since it was issued; for a
    personal access token that it exists (not revoked), has not expired, and its user is active.
    """
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        return None
    try:
        if raw.startswith(PERSONAL_TOKEN_PREFIX):
            token = personal_token_check(raw)
            expires_at = token.expires_at.timestamp() if token.expires_at is not None else None
            return user_by_id(token.user_id), expires_at, token.pk
        token = _jwt.get_validated_token(raw.encode())
        return _jwt.get_user(token), float(token["exp"]), None
    except (InvalidToken, TokenError, AuthenticationFailed, KeyError):
        return None


@database_sync_to_async
def personal_tokens_alive(token_ids: set[int]) -> set[int]:
    """Those of `token_ids` that are still personal access tokens (not revoked)."""
    return set(PersonalAccessToken.objects.filter(pk__in=token_ids).values_list("pk", flat=True))


@database_sync_to_async
def is_member(*, user_id: int, project_id: int) -> bool:
    return Membership.objects.filter(user_id=user_id, project_id=project_id).exists()


@database_sync_to_async
def task_in_project(*, task_id: int, project_id: int) -> bool:
    return Task.objects.filter(pk=task_id, project_id=project_id).exists()


@database_sync_to_async
def project_event_seq(project_id: int) -> int | None:
    """The project's latest seq, or None when the project does not exist."""
    return Project.objects.filter(pk=project_id).values_list("event_seq", flat=True).first()


@database_sync_to_async
def event_messages(project_id: int, *, after: int, upto: int, limit: int) -> list[dict]:
    """The project's logged events with after < seq <= upto, in order, at most `limit`, as the
    channel layer carries them (see realtime.events.event_message)."""
    events = Event.objects.filter(project_id=project_id, seq__gt=after, seq__lte=upto).order_by("seq")[:limit]
    return [event_message(event) for event in events]


@database_sync_to_async
def project_event_seqs(project_ids: list[int]) -> dict[int, int]:
    """Latest seq of each existing project among `project_ids`."""
    return dict(Project.objects.filter(pk__in=project_ids).values_list("id", "event_seq"))
