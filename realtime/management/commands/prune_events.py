"""`manage.py prune_events`: remove events older than the retention period."""

from django.conf import settings
from django.core.management.base import BaseCommand

from realtime.selectors import events_expired
from realtime.services import events_prune


class Command(BaseCommand):
    help = (
        "Delete events older than TASKFLOW_EVENT_RETENTION_DAYS "
        f"(now {settings.TASKFLOW_EVENT_RETENTION.days} days). Clients whose last seen event was removed "
        "get 410 from the changes feed and `reset` on the WebSocket, and reload. The worker "
        "(`manage.py worker`) also runs this every hour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        expired = events_expired()
        if dry_run:
            self.stdout.write(f"{expired.count()} event(s) older than the retention period would be deleted.")
            return
        deleted = events_prune()
        self.stdout.write(f"Deleted {deleted} event(s) older than the retention period.")
