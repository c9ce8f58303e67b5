"""Account use cases: registration, profile changes, password change, session ending, deletion."""

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User


@transaction.atomic
def user_register(*, username: str, email: str, password: str) -> User:
    """Create a user; the password must pass Django's validators (checked by the caller's form)."""
    return User.objects.create_user(username=username, email=email, password=password)


@transaction.atomic
def user_update_profile(*, user: User, data: dict) -> User:
    """Change the caller's e-mail address and names."""
    fields = [name for name in ("email", "first_name", "last_name") if name in data]
    for name in fields:
        setattr(user, name, data[name])
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def user_change_password(*, user: User, new_password: str) -> None:
    """Set a new password and end every session: all outstanding refresh tokens are blacklisted.

    Access tokens carry a hash of the password (simplejwt's revoke claim), so they stop working too.
    """
    validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_blacklist_refresh_tokens(user=user)


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
