"""Background jobs of notifications: sending a reminder when it is due."""

from django.tasks import task

from notifications import services


@task
def reminder_send(reminder_id: int) -> str:
    """Send reminder `reminder_id` if it is still pending (see services.reminder_deliver)."""
    return services.reminder_deliver(reminder_id=reminder_id)
