"""Who is making the current change, for the events that record it."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_acting_user_id: ContextVar[int | None] = ContextVar("acting_user_id", default=None)


@contextmanager
def acting_as(user) -> Iterator[None]:
    """Attribute the events recorded inside the block to `user` (None for the system)."""
    token = _acting_user_id.set(user.pk if user is not None else None)
    try:
        yield
    finally:
        _acting_user_id.reset(token)


def acting_user_id() -> int | None:
    return _acting_user_id.get()
