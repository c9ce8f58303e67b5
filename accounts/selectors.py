"""Reads of user accounts."""

from accounts.models import User
from taskflow.db.rows import fetch_instance, sql

# Every request reads its user, so the statement is written out (taskflow.db.rows).
_USER_BY_ID = "SELECT * FROM {user} WHERE id = %s"


def user_by_id(user_id: int) -> User | None:
    """The user with this id, or None."""
    if not 0 < user_id < 2**63:
        return None
    return fetch_instance(User, sql(_USER_BY_ID, user=User), [user_id])
