"""Operator view of attachments: search and filter them, remove one through the services (an event,
an activity entry, and the stored file deleted once that commits)."""

from django.contrib import admin

from attachments import services
from attachments.models import Attachment


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "task", "project", "size", "content_type", "uploaded_by", "created_at"]
    list_filter = ["content_type", "created_at"]
    search_fields = ["filename", "sha256", "uploaded_by__username", "task__title", "project__name"]
    list_select_related = ["task", "project", "uploaded_by"]
    readonly_fields = [
        "task",
        "project",
        "file",
        "filename",
        "size",
        "content_type",
        "sha256",
        "uploaded_by",
        "created_at",
    ]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # files are uploaded by members, through the API

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.attachment_remove(attachment=obj, actor=request.user, operator=True)

    def delete_queryset(self, request, queryset):
        for attachment in queryset:
            services.attachment_remove(attachment=attachment, actor=request.user, operator=True)
