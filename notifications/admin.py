"""Operator views of reminders (when each goes out, to whom, and whether it went) and of the
notifications users were sent; both read-only."""

from django.contrib import admin

from notifications.models import Notification, Reminder


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


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "user", "project", "task_id", "actor", "at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter), "at"]
    search_fields = ["user__username", "user__email", "actor__username", "project__name", "=task_id"]
    list_select_related = ["user", "project", "actor"]
    date_hierarchy = "at"
    readonly_fields = [field.name for field in Notification._meta.fields]

    # Notifications are made by the jobs that send them (notifications.jobs) and read by their users.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
