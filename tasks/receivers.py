"""Receivers of the accounts app's signals: what a change of a user account means for projects."""

from django.dispatch import receiver

from accounts.signals import user_deleting, user_registered
from taskflow.errors import InvalidInput
from tasks.services import invitation_accept, user_projects_leave


@receiver(user_deleting, dispatch_uid="tasks.user_deleting")
def user_leaves_every_project(sender, *, user, actor, **kwargs) -> None:
    user_projects_leave(user=user, actor=actor)


@receiver(user_registered, dispatch_uid="tasks.user_registered")
def invitation_accept_on_registration(sender, *, user, invitation, **kwargs):
    """A registration with an invitation accepts it, for the address registered (the invitation
    must be for it); a bad token is a 400 on the registration's `invitation`, which undoes it."""
    if invitation is None:
        return None
    try:
        return invitation_accept(token=invitation, actor=user, email=user.email)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="invitation") from None
