"""Operator views of the event log and the activity history (read-only: both are history)."""

from django.contrib import admin

from realtime.models import Activity, Event
from taskflow.admin_pages import HistoryAdmin


@admin.register(Event)
class EventAdmin(HistoryAdmin):
    """The log; `manage.py prune_events` removes old events from its front, which clients detect."""

    list_display = ["project", "seq", "type", "actor", "created_at"]
    list_filter = ["type", "created_at"]
    search_fields = ["project__name", "actor__username"]
    list_select_related = ["project", "actor"]
    date_hierarchy = "created_at"


@admin.register(Activity)
class ActivityAdmin(HistoryAdmin):
    """The permanent history: never pruned; it goes only with its project."""

    list_display = ["at", "project", "task_id", "kind", "actor"]
    list_filter = ["kind", "at"]
    search_fields = ["project__name", "actor__username"]
    list_select_related = ["project", "actor"]
    date_hierarchy = "at"
    readonly_fields = ["project", "task_id", "actor", "at", "kind", "changes"]
