"""Projects, their members with roles, tasks and task labels: data and constraints only."""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

PROJECT_NAME_MAX = 100
TASK_TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
LABEL_MAX = 50
LABELS_PER_TASK_MAX = 20
CHECKLIST_ITEMS_MAX = 100
CHECKLIST_TEXT_MAX = 500


class Project(models.Model):
    name = models.CharField(max_length=PROJECT_NAME_MAX)
    description = models.TextField(blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    # Seq of the project's latest event; the row is locked to take the next one (see realtime).
    event_seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# Roles that may do each kind of thing; the owner can do everything an admin can.
TASK_WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
PROJECT_EDITORS = frozenset({Role.OWNER, Role.ADMIN})


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user_per_project"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Status(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Priority(models.IntegerChoices):
    """Stored as a rank so that ordering by priority is urgent > high > medium > low."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"
    URGENT = 4, "urgent"


class Task(models.Model):
    # Indexed by `task_project` (Meta.indexes), which must stay the foreign key's index on MySQL.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    title = models.CharField(max_length=TASK_TITLE_MAX)
    description = models.TextField(blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TODO)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tasks"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="created_tasks"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # The labels in the client's order; TaskLabel rows mirror them for filtering.
    labels = models.JSONField(default=list, blank=True)
    position = models.FloatField(default=0)
    # A subtask's task, of the same project; one level only: a subtask has no subtasks
    # (tasks.services checks both). Deleting a task deletes its subtasks first, an event each.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subtasks", db_index=False
    )
    # The checklist, in order: [{"id", "text", "done"}], written as a whole with the task. Item ids
    # count up per task from `checklist_last_id`, so a removed item's id is never given again.
    checklist = models.JSONField(default=list, blank=True)
    checklist_last_id = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    # The version that last changed each field, by the field's API name: what a PATCH with
    # `Prefer: merge` is checked against (tasks.services). A field not named has not changed since
    # the task was created at version 1. Kept in the row, so the check reads nothing more.
    field_versions = models.JSONField(default=dict, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # The foreign key's own index. InnoDB checks a foreign key, taking a shared lock on the
            # project row, whenever an UPDATE writes to the index it uses for the key: the first
            # index that starts with project_id. With this one first, only a change of project does,
            # so task writes can take the project's event counter last (realtime.events).
            models.Index(fields=["project"], name="task_project"),
            # The default order of a project's tasks (position, then id: InnoDB appends the key).
            models.Index(fields=["project", "position"], name="task_project_position"),
            models.Index(fields=["project", "status", "position"], name="task_project_status_position"),
            models.Index(fields=["project", "updated_at"], name="task_project_updated"),
            models.Index(fields=["project", "due_at"], name="task_project_due"),
            # A parent's subtasks (and the parent foreign key's index on MySQL).
            models.Index(fields=["parent", "position"], name="task_parent_position"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="task_priority_valid"),
            models.CheckConstraint(
                condition=Q(status=Status.DONE, completed_at__isnull=False) | ~Q(status=Status.DONE),
                name="task_done_has_completed_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TaskLabel(models.Model):
    """Index of `Task.labels`, one row per label, so that tasks can be filtered by label.

    Written only by the task services, together with `Task.labels`. Names are unique per task by
    validation, ignoring case; there is no unique index, since MySQL's collation would also call
    "cafe" and "café" the same.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="label_index")
    name = models.CharField(max_length=LABEL_MAX)

    class Meta:
        ordering = ["task_id", "id"]
        indexes = [models.Index(fields=["task", "name"], name="tasklabel_task_name")]

    def __str__(self) -> str:
        return self.name


# Roles an invitation may offer: anything but owner (a project has exactly one).
INVITABLE_ROLES = (Role.ADMIN, Role.MEMBER, Role.VIEWER)
INVITABLE_ROLE_CHOICES = [(role.value, role.label) for role in INVITABLE_ROLES]
INVITATION_TOKEN_HASH_LENGTH = 64


class Invitation(models.Model):
    """An invitation to join a project with a role, sent by email with a one-time token.

    Only the SHA-256 of the token is stored (`token_hash`): the token itself is in the email alone
    (tasks.services.invitation_create). An invitation is pending until it is accepted (which makes
    the accepting user a member), revoked or past `expires_at`; the rows stay after that, for the
    record, and a used, revoked or expired token is refused.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=INVITABLE_ROLE_CHOICES)
    token_hash = models.CharField(max_length=INVITATION_TOKEN_HASH_LENGTH, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "-created_at", "-id"]
        indexes = [
            # A project's invitations, newest first (and the project foreign key's index on MySQL).
            models.Index(fields=["project", "created_at"], name="invitation_project_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[role.value for role in INVITABLE_ROLES]), name="invitation_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.project} ({self.role})"
