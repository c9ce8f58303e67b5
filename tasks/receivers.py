"""Receivers of the accounts app's signals: what a change of a user account means for projects."""

from django.dispatch import receiver

from accounts.signals import user_deleting
from tasks.services import user_projects_leave


@receiver(user_deleting, dispatch_uid="tasks.user_deleting")
def user_leaves_every_project(sender, *, user, actor, **kwargs) -> None:
    user_projects_leave(user=user, actor=actor)
