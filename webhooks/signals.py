"""The trigger of webhook dispatch: each event recorded in a project with an active endpoint."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from realtime.models import Event
from webhooks import jobs, selectors


@receiver(post_save, sender=Event, dispatch_uid="webhooks.event_recorded")
def event_recorded(sender, instance: Event, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created:
        return
    if selectors.project_has_active_endpoint(project_id=instance.project_id):
        # In the writer's transaction: the job row is in the same database, so it is committed with
        # the event or rolled back with it, and a rolled-back change never sends a webhook.
        jobs.webhooks_dispatch.enqueue(project_id=instance.project_id)
