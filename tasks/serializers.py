"""Input of projects, members and tasks, and the API's description of their output.

What they render is their payload (tasks.payloads), which their events carry too; the declared
fields describe it to the browsable API and the OpenAPI schema, and tests keep the two equal.
"""

import copy
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from taskflow.fields import StrictBooleanField, StrictCharField
from tasks.models import (
    CHECKLIST_ITEMS_MAX,
    CHECKLIST_TEXT_MAX,
    DESCRIPTION_MAX,
    INVITABLE_ROLE_CHOICES,
    LABEL_MAX,
    LABELS_PER_TASK_MAX,
    PROJECT_NAME_MAX,
    TASK_TITLE_MAX,
    Invitation,
    Membership,
    Priority,
    Project,
    Role,
    Status,
    Task,
)
from tasks.payloads import (
    InvitationPayload,
    MemberPayload,
    ProjectPayload,
    TaskPayload,
    invitation_payload,
    member_payload,
    project_payload,
    task_payload,
)

# Ids arrive as JSON numbers; beyond a signed 64-bit integer no row can match.
MAX_ID = 2**63 - 1


class ProjectSerializer(serializers.ModelSerializer):
    name = StrictCharField(max_length=PROJECT_NAME_MAX)
    description = StrictCharField(max_length=DESCRIPTION_MAX, allow_blank=True, required=False)
    role = serializers.CharField(read_only=True, help_text="The caller's role in the project.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "role", "event_seq", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "role", "event_seq", "created_at", "updated_at"]


class ProjectEventDataSerializer(serializers.ModelSerializer):
    """A project in `project.updated` events: the same for every member, so without `role`."""

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "created_at", "updated_at"]

    def to_representation(self, instance: Project) -> ProjectPayload:
        return project_payload(instance)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "role", "joined_at"]
        read_only_fields = fields

    def to_representation(self, instance: Membership) -> MemberPayload:
        return member_payload(instance)


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1, "maxLength": 150}],
        "description": "A user id or username.",
    }
)
class UserReferenceField(serializers.CharField):
    """A user named by id (a JSON integer, or a string of its digits) or by username."""

    default_error_messages = {"invalid": "Enter a user id or a username."}

    def to_internal_value(self, data):
        # CharField would take any number; an id is an integer (and True is not 1).
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MemberAddSerializer(serializers.Serializer):
    user = UserReferenceField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class PriorityField(serializers.ChoiceField):
    """Priority by name in the API (`low` ... `urgent`), by rank in the database."""

    def __init__(self, **kwargs):
        super().__init__(choices=[label for _, label in Priority.choices], **kwargs)

    def to_internal_value(self, data):
        return Priority[super().to_internal_value(data).upper()].value

    def to_representation(self, value):
        return Priority(value).label


class ChecklistItemSerializer(serializers.Serializer):
    """A checklist item: without `id` it is new; with one, it is that item of the task, changed."""

    id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    text = StrictCharField(max_length=CHECKLIST_TEXT_MAX)
    done = StrictBooleanField(default=False)

    def validate(self, attrs: dict) -> dict:
        # In a PATCH the task's serializer is partial, and DRF then skips the required fields and
        # the defaults of nested ones too: an item's `text` is required all the same.
        if "text" not in attrs:
            raise serializers.ValidationError({"text": [self.fields["text"].error_messages["required"]]})
        attrs.setdefault("done", False)
        return attrs


class ChecklistField(serializers.ListField):
    """The checklist: a list of items, whose errors are messages like every other field's.

    DRF reports an invalid item as `{"checklist": {"3": {"text": [...]}}}`; the API's errors map a
    field to a list of messages, so they read `{"checklist": ["Item 4: text: ..."]}`.
    """

    def __init__(self, **kwargs):
        super().__init__(child=ChecklistItemSerializer(), **kwargs)

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(list(_messages(error.detail))) from None


def _messages(detail, prefix: str = ""):
    """Every message of a nested DRF error, each prefixed with where it is."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            where = f"Item {key + 1}" if isinstance(key, int) else str(key)
            yield from _messages(value, f"{prefix}{where}: ")
    elif isinstance(detail, list):
        for value in detail:
            yield from _messages(value, prefix)
    else:
        yield f"{prefix}{detail}"


# Fields are declared, not derived from the model: a ModelSerializer rebuilt them from the model on
# every request, a large part of each write (bench/README.md).
class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    project = serializers.IntegerField(source="project_id", min_value=1, max_value=MAX_ID)
    title = StrictCharField(max_length=TASK_TITLE_MAX)
    description = StrictCharField(max_length=DESCRIPTION_MAX, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = PriorityField(required=False)
    assignee = serializers.IntegerField(
        source="assignee_id", min_value=1, max_value=MAX_ID, allow_null=True, required=False
    )
    # Null once its creator's account is deleted (tasks.services.user_delete).
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True, required=False)
    labels = serializers.ListField(
        child=StrictCharField(max_length=LABEL_MAX),
        max_length=LABELS_PER_TASK_MAX,
        required=False,
    )
    position = serializers.FloatField(required=False)
    parent = serializers.IntegerField(
        source="parent_id",
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text="The task this one is a subtask of: a task of the same project that is not a subtask itself.",
    )
    checklist = ChecklistField(
        max_length=CHECKLIST_ITEMS_MAX,
        required=False,
        help_text="The whole checklist, in order: items without `id` are new, items left out are removed.",
    )
    version = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_fields(self):
        if self.partial and isinstance(getattr(self, "initial_data", None), Mapping):
            # A partial update validates only the fields it sends (DRF skips the others) and
            # renders through task_payload, so only those are built: DRF deep-copies every
            # declared field per serializer, a fifth of a PATCH's time.
            fields = {
                name: copy.deepcopy(field) for name, field in self._declared_fields.items() if name in self.initial_data
            }
        else:
            fields = super().get_fields()
        if "project" not in fields:
            return fields
        request = self.context.get("request")
        if self.instance is not None or request is None:
            # The project is chosen at creation and never changes.
            fields["project"] = serializers.IntegerField(source="project_id", read_only=True)
        elif request.user.is_authenticated:
            # Chosen among the caller's projects: any other is "does not exist", a 400.
            from tasks.selectors import project_list_for_user

            fields["project"] = serializers.PrimaryKeyRelatedField(
                queryset=project_list_for_user(user=request.user), pk_field=serializers.IntegerField()
            )
        return fields

    def to_representation(self, instance: Task) -> TaskPayload:
        # Every list, detail and write response renders tasks, and every task event carries one:
        # task_payload builds the same dict as the fields above would, without their machinery.
        return task_payload(instance)

    def validate_labels(self, value: list[str]) -> list[str]:
        seen = set()
        for label in value:
            if label.casefold() in seen:
                raise serializers.ValidationError(f"Label {label!r} is given more than once.")
            seen.add(label.casefold())
        return value

    def validate(self, attrs: dict) -> dict:
        # Serializer field names, not model attribute names, are what services take.
        if "assignee_id" in attrs:
            attrs["assignee"] = attrs.pop("assignee_id")
        if "parent_id" in attrs:
            attrs["parent"] = attrs.pop("parent_id")
        return attrs

    def validate_checklist(self, value: list[dict]) -> list[dict]:
        ids = [item["id"] for item in value if "id" in item]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("An item id is given more than once.")
        return value


class TaskChangeSerializer(TaskSerializer):
    """The body of a task's PUT or PATCH: a task's fields without `project`, which is chosen at
    creation and never changes."""

    # Only the schema uses it: TaskSerializer itself takes `project` as read-only in an update.

    def get_fields(self):
        fields = super().get_fields()
        fields.pop("project", None)
        return fields


# The fields a task's PATCH may send: those a merge's conflict can name.
TASK_CHANGE_FIELDS = [
    name for name, field in TaskSerializer._declared_fields.items() if not field.read_only and name != "project"
]


class TaskMergeConflictSerializer(serializers.Serializer):
    """The 412 of a PATCH with `Prefer: merge`: the fields it sends that someone else changed
    after its `If-Match` version, and the task as it is now."""

    detail = serializers.CharField()
    conflicts = serializers.ListField(
        child=serializers.ChoiceField(choices=TASK_CHANGE_FIELDS),
        help_text="The fields of the request changed since its version, sorted; every field it sends when "
        "`If-Match` names a version the task has not had.",
    )
    current = TaskSerializer(help_text="The task as it is now (its version is the response's `ETag`).")


# At least as long as any token TaskFlow makes (43 characters), and no longer than a token could be.
INVITATION_TOKEN_MAX = 128


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation (InvitationPayload); the input of one is `{email, role}`."""

    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=INVITABLE_ROLE_CHOICES,
        default=Role.MEMBER,
        help_text="The role the invited user gets: only the owner may invite an admin.",
    )

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = ["id", "invited_by", "created_at", "expires_at"]

    def to_representation(self, instance: Invitation) -> InvitationPayload:
        return invitation_payload(instance)


class InvitationAcceptSerializer(serializers.Serializer):
    token = StrictCharField(max_length=INVITATION_TOKEN_MAX, help_text="The token the invitation's email carries.")


class InvitationAcceptedSerializer(serializers.Serializer):
    """What accepting an invitation made of the caller: a member of `project`, with `role`."""

    project = serializers.IntegerField()
    role = serializers.ChoiceField(choices=INVITABLE_ROLE_CHOICES)


# A search shorter than this is refused: it would match nearly everyone a caller works with.
USER_SEARCH_MIN = 2


class UserSearchQuerySerializer(serializers.Serializer):
    search = StrictCharField(
        min_length=USER_SEARCH_MIN,
        max_length=150,
        help_text=f"Part of a username, first or last name (at least {USER_SEARCH_MIN} characters; case ignored).",
    )


class UserLookupSerializer(serializers.ModelSerializer):
    """A user as people who share a project with them see them: never their email address."""

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name"]
        read_only_fields = fields
