"""Operator views of projects, members, tasks and invitations.

Changes made here go through the services, so versions, completion times and the event log stay
as true as for changes made through the API; the operator is recorded as the events' actor.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from taskflow.admin_pages import on_own_admin_pages
from taskflow.errors import ApplicationError
from tasks import services
from tasks.models import CHECKLIST_ITEMS_MAX, Invitation, Membership, Project, Role, Status, Task
from tasks.serializers import ChecklistField


class MembershipInline(admin.TabularInline):
    """Members at a glance; they are added, changed and removed on the Membership pages."""

    model = Membership
    extra = 0
    fields = ["user", "role", "joined_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "event_seq", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["event_seq", "created_at", "updated_at"]
    raw_id_fields = ["owner"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # Ownership is fixed at creation: the owner's membership is created with the project.
        return [*self.readonly_fields, "owner"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            # The form already set the new values on `obj`; the service compares with the stored row.
            services.project_update(
                project=Project.objects.get(pk=obj.pk),
                actor=request.user,
                data={name: form.cleaned_data[name] for name in form.changed_data},
                operator=True,
            )
        else:
            created = services.project_create(
                actor=request.user, owner=obj.owner, name=obj.name, description=obj.description
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.project_delete(project=obj, actor=request.user, operator=True)

    def delete_queryset(self, request, queryset):
        for project in queryset:
            services.project_delete(project=project, actor=request.user, operator=True)


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["project", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        was_owner = self.instance.pk is not None and self.instance.role == Role.OWNER
        if (cleaned.get("role") == Role.OWNER) != was_owner:
            raise forms.ValidationError("A project has exactly one owner, chosen when it is created.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "project", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "project__name"]
    raw_id_fields = ["user", "project"]
    list_select_related = ["user", "project"]

    def get_readonly_fields(self, request, obj=None):
        return ["project", "user", "joined_at"] if obj is not None else ["joined_at"]

    def has_delete_permission(self, request, obj=None):
        # The owner's membership goes only with the project.
        if obj is not None and obj.role == Role.OWNER and on_own_admin_pages(request, self):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.member_change_role(
                    project=obj.project,
                    actor=request.user,
                    membership=Membership.objects.get(pk=obj.pk),
                    role=obj.role,
                    operator=True,
                )
            else:
                created = services.member_add(
                    project=obj.project, actor=request.user, user=obj.user_id, role=obj.role, operator=True
                )
                obj.pk = created.pk
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request, obj):
        services.member_remove(project=obj.project, actor=request.user, membership=obj, operator=True)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project"):
            try:
                services.member_remove(
                    project=membership.project, actor=request.user, membership=membership, operator=True
                )
            except ApplicationError as exc:
                self.message_user(request, f"{membership}: {exc.message}", messages.ERROR)


class TaskActionForm(ActionForm):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="For “Assign to”: must be a member of each task's project.",
    )


class TaskAdminForm(forms.ModelForm):
    labels = forms.JSONField(required=False, help_text='A list of strings, e.g. ["bug", "ui"].')
    checklist = forms.JSONField(
        required=False,
        help_text='The whole checklist, e.g. [{"id": 1, "text": "Draft", "done": true}, {"text": "Review"}]: '
        "items without an id are new, items left out are removed.",
    )

    class Meta:
        model = Task
        fields = [
            "project",
            "title",
            "description",
            "status",
            "priority",
            "assignee",
            "due_at",
            "labels",
            "position",
            "parent",
            "checklist",
        ]

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project") or (self.instance.project if self.instance.pk else None)
        assignee = cleaned.get("assignee")
        if project is not None and assignee is not None and not project.memberships.filter(user=assignee).exists():
            self.add_error("assignee", "The assignee must be a member of the project.")
        return cleaned

    def clean_checklist(self):
        # The API's own validation of items (types, lengths, ids given twice).
        try:
            items = self.cleaned_data.get("checklist") or []
            return ChecklistField(max_length=CHECKLIST_ITEMS_MAX).run_validation(items)
        except serializers.ValidationError as error:
            raise forms.ValidationError(error.detail) from None

    def clean_labels(self):
        labels = self.cleaned_data.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
            raise forms.ValidationError("Enter a list of non-empty strings.")
        return labels


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    form = TaskAdminForm
    action_form = TaskActionForm
    list_display = ["title", "project", "status", "priority", "assignee", "due_at", "version", "updated_at"]
    list_filter = ["status", "priority", "due_at", "project"]
    search_fields = ["title", "description", "assignee__username", "project__name"]
    list_select_related = ["project", "assignee"]
    readonly_fields = ["version", "created_by", "created_at", "updated_at", "completed_at"]
    raw_id_fields = ["project", "assignee", "parent"]

    def get_readonly_fields(self, request, obj=None):
        # A task stays in the project it was created in.
        return [*self.readonly_fields, "project"] if obj is not None else self.readonly_fields

    date_hierarchy = "updated_at"
    actions = ["mark_done", "mark_cancelled", "unassign", "assign_to"]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.TASK_EDITABLE_FIELDS}
        for name in ("assignee", "parent"):
            if name in data:
                data[name] = data[name].pk if data[name] else None
        try:
            if change:
                # The form has already changed `obj` in memory: the service compares with the row.
                stored = Task.objects.get(pk=obj.pk)
                saved = services.task_update(task=stored, actor=request.user, data=data, operator=True)
            else:
                data.setdefault("title", obj.title)
                saved = services.task_create(project=obj.project, actor=request.user, data=data, operator=True)
        except ApplicationError as exc:
            # A rule only the service can check (a parent that is a subtask): nothing was saved.
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk, obj.version = saved.pk, saved.version

    def delete_model(self, request, obj):
        services.task_delete(task=obj, actor=request.user, operator=True)

    def delete_queryset(self, request, queryset):
        for task in queryset:
            services.task_delete(task=task, actor=request.user, operator=True)

    def _bulk_change(self, request, queryset, changes: dict, done: str) -> None:
        try:
            count = services.task_bulk_update(tasks=queryset, actor=request.user, changes=changes, operator=True)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{count} task(s) {done}.", messages.SUCCESS)

    @admin.action(description="Mark selected tasks as done", permissions=["change"])
    def mark_done(self, request, queryset):
        self._bulk_change(request, queryset, {"status": Status.DONE}, "marked done")

    @admin.action(description="Mark selected tasks as cancelled", permissions=["change"])
    def mark_cancelled(self, request, queryset):
        self._bulk_change(request, queryset, {"status": Status.CANCELLED}, "cancelled")

    @admin.action(description="Unassign selected tasks", permissions=["change"])
    def unassign(self, request, queryset):
        self._bulk_change(request, queryset, {"assignee": None}, "unassigned")

    @admin.action(description="Assign selected tasks to the chosen user", permissions=["change"])
    def assign_to(self, request, queryset):
        assignee = request.POST.get("assignee", "")
        if not (assignee.isascii() and assignee.isdigit()):
            self.message_user(request, "Choose a user to assign the tasks to.", messages.ERROR)
            return
        self._bulk_change(request, queryset, {"assignee": int(assignee)}, "reassigned")


class InvitationStateFilter(admin.SimpleListFilter):
    """Pending, accepted, revoked or expired: what an invitation is now."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("accepted", "Accepted"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        unused = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        states = {
            "pending": unused & Q(expires_at__gt=now),
            "accepted": Q(accepted_at__isnull=False),
            "revoked": Q(revoked_at__isnull=False),
            "expired": unused & Q(expires_at__lte=now),
        }
        return queryset.filter(states[self.value()]) if self.value() in states else queryset


class InvitationAdminForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["project", "email", "role"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations, to look up and revoke; one made here is sent by email like one made in the API.
    Only the token's hash is stored, and it cannot be changed."""

    form = InvitationAdminForm
    list_display = ["email", "project", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = [InvitationStateFilter, "role", "created_at", "expires_at"]
    search_fields = ["email", "project__name", "invited_by__username", "accepted_by__username"]
    list_select_related = ["project", "invited_by"]
    raw_id_fields = ["project"]
    readonly_fields = [
        "token_hash",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    date_hierarchy = "created_at"
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # An invitation is sent as made: nothing of it changes, but being accepted or revoked.
        return [*self.readonly_fields, "project", "email", "role"] if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays, for the record

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = services.invitation_create(
                project=obj.project, actor=request.user, email=obj.email, role=obj.role, operator=True
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = created.pk

    @admin.action(description="Revoke selected pending invitations", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset.select_related("project"):
            try:
                services.invitation_revoke(
                    project=invitation.project, actor=request.user, invitation=invitation, operator=True
                )
                revoked += 1
            except ApplicationError:
                pass  # accepted, revoked or expired already: nothing to revoke
        self.message_user(request, f"{revoked} invitation(s) revoked.", messages.SUCCESS)
