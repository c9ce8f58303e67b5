"""Operator view of the event log (read-only: the log is history)."""

from django.contrib import admin

from realtime.models import Activity, Event
from taskflow.admin_pages import on_own_admin_pages


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["project", "seq", "type", "actor", "created_at"]
    list_filter = ["type", "created_at"]
    search_fields = ["project__name", "actor__username"]
    list_select_related = ["project", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Not from the event pages: a hole in the log would silently cost clients a change
        # (`manage.py prune_events` removes old events from the front, which clients detect).
        # Deleting a project still takes its events along.
        return not on_own_admin_pages(request, self) and super().has_delete_permission(request, obj)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """The permanent history: read-only, as the log is; it goes only with its project."""

    list_display = ["at", "project", "task_id", "kind", "actor"]
    list_filter = ["kind", "at"]
    search_fields = ["project__name", "actor__username"]
    list_select_related = ["project", "actor"]
    date_hierarchy = "at"
    readonly_fields = ["project", "task_id", "actor", "at", "kind", "changes"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return not on_own_admin_pages(request, self) and super().has_delete_permission(request, obj)
