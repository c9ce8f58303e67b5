"""`manage.py events_doc`: write docs/events.md from the event catalogue."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from realtime.catalogue import catalogue_markdown

EVENTS_DOC = Path(settings.BASE_DIR) / "docs" / "events.md"


class Command(BaseCommand):
    help = "Write docs/events.md (every event type and its payload) from realtime/catalogue.py."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; fail if docs/events.md is stale.")

    def handle(self, *args, check: bool = False, **options):
        text = catalogue_markdown()
        if check:
            if not EVENTS_DOC.exists() or EVENTS_DOC.read_text() != text:
                raise CommandError("docs/events.md differs from the event catalogue: run `manage.py events_doc`.")
            self.stdout.write("docs/events.md is up to date.")
            return
        EVENTS_DOC.write_text(text)
        self.stdout.write(f"Wrote {EVENTS_DOC}.")
