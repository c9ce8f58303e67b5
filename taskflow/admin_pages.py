"""Telling an admin page of a model from the pages of other models that cascade to it, and the
admin of rows that are history."""

from django.contrib import admin


def on_own_admin_pages(request, model_admin) -> bool:
    """Whether `request` is for one of `model_admin`'s own pages (its list, change or delete page).

    Lets an admin refuse deleting rows from their own pages while still letting the deletion of a
    parent take them along (Django asks the same `has_delete_permission` for both).
    """
    match = getattr(request, "resolver_match", None)
    opts = model_admin.model._meta
    return match is not None and (match.url_name or "").startswith(f"{opts.app_label}_{opts.model_name}_")


class HistoryAdmin(admin.ModelAdmin):
    """The admin of rows that record what happened (the event log, the activity history, webhook
    deliveries): read-only, and deleted only with what they belong to (deleting a project takes its
    events along), never from their own pages, where a hole would silently cost someone a record."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return not on_own_admin_pages(request, self) and super().has_delete_permission(request, obj)
