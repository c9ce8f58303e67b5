"""Background jobs of webhooks: dispatching a project's new events, attempting a delivery, the sweep.

Thin: each runs a service (`webhooks.services`), which enqueues any follow-up job in its own transaction.
"""

from django.tasks import task

# A module import: the services enqueue these jobs, so the two modules import each other.
from webhooks import services


@task
def webhooks_dispatch(project_id: int) -> int:
    """Create and enqueue the deliveries of the project's events past each endpoint's cursor."""
    return services.deliveries_dispatch(project_id=project_id)


@task
def webhook_deliver(delivery_id: str) -> str:
    """Make one attempt at a delivery (if still pending); a failed one enqueues its retry."""
    return services.delivery_attempt(delivery_id=delivery_id)


@task
def webhooks_sweep() -> int:
    """Every minute (operations.periodic): dispatch for any project whose endpoints lag behind its log."""
    return services.endpoints_sweep()
