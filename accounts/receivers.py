"""Receivers that turn the ORM's deletion of a user into the accounts app's domain signal.

A user's rows elsewhere would otherwise change without their apps' writes: memberships deleted by
the cascade and tasks' `assignee` and `created_by` set to NULL by the ORM, moving no event seq and
no task version, which the caches rely on (tasks.page_cache). pre_delete is sent for every
deletion the ORM makes, a single user or a queryset, before anything is deleted and inside the
deletion's transaction; `user_deleting` lets the apps change those rows first, their own way.
"""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import User
from accounts.signals import user_deleting


@receiver(pre_delete, sender=User, dispatch_uid="accounts.user_pre_delete")
def user_deleting_send(sender, instance: User, **kwargs) -> None:
    # accounts.services.user_delete names the actor; any other deletion is the system's.
    user_deleting.send(sender=User, user=instance, actor=getattr(instance, "deleted_by", None))
