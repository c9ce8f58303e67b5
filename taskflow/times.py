"""Times as the API writes them, for the payloads every app builds by hand."""

from datetime import datetime

from django.utils import timezone


def datetime_text(value: datetime | None, zone=None) -> str | None:
    """ISO 8601 in `zone` (the current time zone by default), `Z` for UTC: what DRF's
    DateTimeField renders."""
    if value is None:
        return None
    text = value.astimezone(zone or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
