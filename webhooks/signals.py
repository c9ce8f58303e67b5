"""The trigger of webhook dispatch: each event recorded in a project with an active endpoint."""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from realtime.models import Event
from webhooks import jobs, selectors


@receiver(post_save, sender=Event, dispatch_uid="webhooks.event_recorded")
def event_recorded(sender, instance: Event, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created:
        return
    # After the commit, so that a rolled-back change never sends a webhook, and outside the
    # writer's transaction, which holds the project's event counter until it commits. Should the
    # process stop in between, the sweep (every minute) dispatches the event.
    transaction.on_commit(partial(dispatch_if_listened, project_id=instance.project_id), robust=True)


def dispatch_if_listened(*, project_id: int) -> None:
    """Enqueue a dispatch of the project's new events if any active endpoint listens to it."""
    if selectors.project_has_active_endpoint(project_id=project_id):
        jobs.webhooks_dispatch.enqueue(project_id=project_id)
