"""Writes to the event log other than appending: retention."""

from realtime.selectors import events_expired

PRUNE_BATCH = 5000


def events_prune(*, batch: int = PRUNE_BATCH) -> int:
    """Delete events older than the retention period, in batches; returns how many.

    Batches keep each delete short, so a large backlog never holds long locks on the log.
    """
    expired = events_expired()
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch]):
        deleted += expired.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
