"""Operator view of the event log (read-only: the log is history)."""

from django.contrib import admin

from realtime.models import Event


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
