"""Password reset: the `uid` and `token` a reset email carries, and their check.

`uid` is the user's id in URL-safe base64 (Django's `urlsafe_base64_encode`), `token` is Django's
`default_token_generator`'s: a keyed hash of the user's id, password hash, last login and the time
it was made. Nothing of it is stored. It stops working once the password changes, so it works once,
and after PASSWORD_RESET_TIMEOUT (Django's setting, three days by default).
"""

from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User

PASSWORD_RESET_INVALID = "This password reset token is invalid, used or expired."


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def password_reset_token(user: User) -> str:
    return default_token_generator.make_token(user)


def password_reset_users(email: str):
    """The accounts a reset for `email` goes to: the active one with that address (ignoring case)
    and a password to replace (none, or one: addresses are unique)."""
    users = User.objects.filter(email__iexact=email, is_active=True)
    return [user for user in users if user.has_usable_password()]


def password_reset_user(uid: str, token: str, *, for_update: bool = False) -> User | None:
    """The active user `uid` names, if `token` is a valid reset token of theirs; else None.

    With `for_update` the user's row is locked (in the caller's transaction), so that two resets
    with the same token cannot both pass.
    """
    try:
        text = urlsafe_base64_decode(uid).decode("ascii")
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        return None
    users = User.objects.filter(pk=int(text), is_active=True)
    user = (users.select_for_update() if for_update else users).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user
