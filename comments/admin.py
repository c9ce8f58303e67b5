"""Operator view of comments: search and filter them, edit a body or delete one, through the
services (so the change is an event and an activity entry, with the operator as its actor)."""

from django.contrib import admin

from comments import services
from comments.models import Comment


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "project", "author", "created_at", "updated_at"]
    list_filter = ["created_at", "updated_at"]
    search_fields = ["body", "author__username", "task__title", "project__name"]
    list_select_related = ["task", "project", "author"]
    fields = ["task", "project", "author", "body", "mentions", "created_at", "updated_at"]
    readonly_fields = ["task", "project", "author", "mentions", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # comments are written by members, through the API

    def save_model(self, request, obj, form, change):
        stored = Comment.objects.get(pk=obj.pk)
        services.comment_update(comment=stored, actor=request.user, body=obj.body, operator=True)

    def delete_model(self, request, obj):
        services.comment_delete(comment=obj, actor=request.user, operator=True)

    def delete_queryset(self, request, queryset):
        for comment in queryset:
            services.comment_delete(comment=comment, actor=request.user, operator=True)
