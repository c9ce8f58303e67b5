"""Receivers of other apps' signals: what a change of a user account means for comments."""

from django.dispatch import receiver

from accounts.signals import user_deleting
from comments.services import user_comments_unattribute


@receiver(user_deleting, dispatch_uid="comments.user_deleting")
def user_comments_keep(sender, *, user, actor, **kwargs) -> None:
    user_comments_unattribute(user=user, actor=actor)
