"""The trigger of webhook dispatch: each event recorded in a project with an active endpoint."""

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from realtime.events import event_recorded
from realtime.models import Event
from webhooks import jobs, selectors


@receiver(event_recorded, dispatch_uid="webhooks.event_recorded")
def event_appended(sender, event: Event, **kwargs) -> None:
    # After the commit, so that a rolled-back change never sends a webhook, and outside the
    # writer's transaction, which holds the project's event counter until it commits. Should the
    # process stop in between, the sweep (every minute) dispatches the event.
    transaction.on_commit(partial(dispatch_if_listened, project_id=event.project_id), robust=True)


def dispatch_if_listened(*, project_id: int) -> None:
    """Enqueue a dispatch of the project's new events if any active endpoint listens to it."""
    if selectors.project_has_active_endpoint(project_id=project_id):
        jobs.webhooks_dispatch.enqueue(project_id=project_id)
