"""Reads of user accounts."""

from django.db.models import QuerySet

from accounts.models import PersonalAccessToken, User
from taskflow.db.rows import fetch_instance, sql

# Every request reads its user, so the statement is written out (taskflow.db.rows).
_USER_BY_ID = "SELECT * FROM {user} WHERE id = %s"


def user_by_id(user_id: int) -> User | None:
    """The user with this id, or None."""
    if not 0 < user_id < 2**63:
        return None
    return fetch_instance(User, sql(_USER_BY_ID, user=User), [user_id])


def personal_token_of_active_user(key_hash: str) -> PersonalAccessToken | None:
    """The personal access token with this hash, while its user may sign in (active); one query."""
    return fetch_instance(
        PersonalAccessToken, sql(_TOKEN_OF_ACTIVE_USER, token=PersonalAccessToken, user=User), [True, key_hash]
    )


# Every request with a personal token reads it, so the statement is written out (taskflow.db.rows).
_TOKEN_OF_ACTIVE_USER = (
    "SELECT t.* FROM {token} t INNER JOIN {user} u ON u.id = t.user_id AND u.is_active = %s WHERE t.key_hash = %s"
)


def personal_tokens_of(*, user: User) -> QuerySet[PersonalAccessToken]:
    """A user's personal access tokens, newest first."""
    return PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-id")


def personal_token_get(*, user: User, token_id: int) -> PersonalAccessToken:
    """One of the user's tokens; someone else's is the same 404 as none (DoesNotExist: a 404)."""
    return personal_tokens_of(user=user).get(pk=token_id)
