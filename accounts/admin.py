"""Operator views of users."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import IdempotentRequest, PersonalAccessToken, User
from accounts.services import personal_token_revoke, user_delete


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering = ["username"]
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)

    def delete_model(self, request, obj):
        user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user, actor=request.user)


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    """Operators see who holds which token and revoke one (deleting it, through the service: its
    sockets close); the tokens themselves are never stored, so never shown."""

    list_display = ["name", "user", "scope", "created_at", "expires_at", "last_used_at"]
    list_filter = ["scope", "created_at", "last_used_at"]
    search_fields = ["name", "user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "scope", "created_at", "expires_at", "last_used_at"]
    exclude = ["key_hash"]

    def has_add_permission(self, request):
        return False  # made by their users, who alone see them once

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        personal_token_revoke(token=obj)

    def delete_queryset(self, request, queryset):
        for token in queryset:
            personal_token_revoke(token=token)


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(admin.ModelAdmin):
    """Keyed writes and their kept answers, to look at: a row changed by hand could replay an
    answer that no request got. Deleting one forgets its key (a repeat then runs again); the hourly
    prune deletes them after 24 hours."""

    list_display = ["created_at", "user", "method", "path", "key", "status"]
    list_filter = ["method", "status", "created_at"]
    search_fields = ["key", "path", "user__username"]
    list_select_related = ["user"]
    exclude = ["key_digest", "body_digest", "body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
