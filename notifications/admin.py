"""Operator view of reminders: when each goes out, to whom, and whether it went (read-only)."""

from django.contrib import admin

from notifications.models import Reminder


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["task", "user", "due_at", "remind_at", "status", "sent_at", "attempts"]
    list_filter = ["status", "remind_at"]
    search_fields = ["task__title", "user__username", "user__email"]
    list_select_related = ["task", "user"]
    date_hierarchy = "remind_at"
    readonly_fields = [field.name for field in Reminder._meta.fields]

    # Reminders follow their tasks (notifications.services.reminder_sync): edit the task instead.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
