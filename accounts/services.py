"""Account use cases: registration, profile changes, password change and reset, session ending,
deletion, personal access tokens."""

from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.jobs import password_reset_send
from accounts.models import PersonalAccessToken, User
from accounts.password_reset import PASSWORD_RESET_INVALID, password_reset_user
from accounts.signals import personal_token_revoked, user_registered, user_sessions_ended
from accounts.tokens import personal_token_hash, personal_token_new
from taskflow.errors import InvalidInput

# Personal access tokens per user, at most; and how far ahead one may expire.
PERSONAL_TOKENS_MAX = 50
PERSONAL_TOKEN_LIFETIME_MAX = timedelta(days=366)


@transaction.atomic
def user_register(*, username: str, email: str, password: str, invitation: str | None = None) -> User:
    """Create a user; the password must pass Django's validators (checked by the caller's form).

    With an `invitation` token the new user accepts that invitation in the same transaction (the
    tasks app receives `user_registered`): an invitation that is not pending, or is for another
    address, is a 400 on `invitation` and no account is made.
    """
    user = User.objects.create_user(username=username, email=email, password=password)
    accepted = user_registered.send(sender=User, user=user, invitation=invitation)
    if invitation is not None and not any(response for _, response in accepted):
        raise InvalidInput("Invitations cannot be accepted here.", field="invitation")
    return user


@transaction.atomic
def user_update_profile(*, user: User, data: dict) -> User:
    """Change the caller's e-mail address, names and whether notifications come by email."""
    fields = [name for name in ("email", "first_name", "last_name", "email_notifications") if name in data]
    for name in fields:
        setattr(user, name, data[name])
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def user_change_password(*, user: User, new_password: str) -> None:
    """Set a new password and end every session: all outstanding refresh tokens are blacklisted.

    Access tokens carry a hash of the password (simplejwt's revoke claim), so they stop working
    too, and the WebSockets signed in with one close (`user_sessions_ended`). Personal access
    tokens stay: the caller proved they know the password.
    """
    validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_blacklist_refresh_tokens(user=user)
    user_sessions_ended.send(sender=User, user_id=user.pk)


def user_password_reset_request(*, email: str) -> None:
    """Ask for a password reset email to `email`: the job that sends it (accounts.jobs) looks the
    address up, so this does the same work for every address (no account enumeration)."""
    password_reset_send.enqueue(email)


@transaction.atomic
def user_password_reset(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password with a reset's `uid` and `token`, through `user_change_password` (every
    session ends), and revoke every personal access token of the user: a reset is how an account
    is taken back, and whoever knew the old password may have made tokens with it.

    The token is checked with the user's row locked: it works once, however many resets with it
    run at once. 400 on `token` when it is not (or no longer) valid."""
    user = password_reset_user(uid, token, for_update=True)
    if user is None:
        raise InvalidInput(PASSWORD_RESET_INVALID, field="token")
    user_change_password(user=user, new_password=new_password)
    for personal_token in PersonalAccessToken.objects.filter(user=user).order_by("pk"):
        personal_token_revoke(token=personal_token)
    return user


def user_blacklist_refresh_tokens(*, user: User) -> int:
    """Blacklist every refresh token of the user not blacklisted yet; returns how many."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


@transaction.atomic
def user_delete(*, user: User, actor: User | None) -> None:
    """Delete a user account, on behalf of `actor`.

    Every deletion of a user, through here or not (the admin, a shell, a queryset), first sends
    `user_deleting` in its transaction (accounts.receivers), so that every app changes its rows
    that refer to the user as its own writes would: the tasks app removes the user from every
    project and clears `created_by`, with events. A user who owns projects cannot be deleted.
    """
    user.deleted_by = actor  # for the receivers: who deleted the account
    user.delete()


@transaction.atomic
def personal_token_create(
    *, user: User, name: str, scope: str, expires_at: datetime | None = None
) -> tuple[PersonalAccessToken, str]:
    """Make a personal access token of `user`'s; returns the row and the token, which is not kept."""
    if expires_at is not None:
        now = timezone.now()
        if expires_at <= now:
            raise InvalidInput("The expiry must be in the future.", field="expires_at")
        if expires_at > now + PERSONAL_TOKEN_LIFETIME_MAX:
            raise InvalidInput("A token expires at most a year from now.", field="expires_at")
    # The user's row, locked: concurrent creations count the tokens one after the other.
    User.objects.select_for_update().filter(pk=user.pk).exists()
    if PersonalAccessToken.objects.filter(user=user).count() >= PERSONAL_TOKENS_MAX:
        raise InvalidInput(f"A user has at most {PERSONAL_TOKENS_MAX} personal access tokens: revoke one first.")
    raw = personal_token_new(user_id=user.pk)
    token = PersonalAccessToken.objects.create(
        user=user, name=name, scope=scope, expires_at=expires_at, key_hash=personal_token_hash(raw)
    )
    return token, raw


@transaction.atomic
def personal_token_revoke(*, token: PersonalAccessToken) -> None:
    """Revoke a token at once: the next request with it is a 401, and its sockets close (4401)."""
    personal_token_revoked.send(sender=PersonalAccessToken, token=token, user_id=token.user_id)
    token.delete()
