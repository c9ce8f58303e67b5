"""Input of a batch and the API's description of its answers.

The envelope (`commands`, 1 to 100) is validated before anything runs; each command's own fields
(`op`, `temp_id`, `id`, `if_match`, `args`) when its turn comes, so that `failed` names the first
command, in order, that fails. `args` are the body of the command's endpoint, validated by that
endpoint's serializer (batch.commands).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from taskflow.fields import StrictCharField
from taskflow.openapi import ERROR, VALIDATION_ERROR, component_ref
from tasks.serializers import MAX_ID

COMMANDS_MAX = 100
TEMP_ID_MAX = 64

TASK_CREATE = "task.create"
TASK_UPDATE = "task.update"
TASK_DELETE = "task.delete"
COMMENT_CREATE = "comment.create"
OPS = (TASK_CREATE, TASK_UPDATE, TASK_DELETE, COMMENT_CREATE)

_TEMP_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": TEMP_ID_MAX}
_TASK_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def task_id_or_none(value) -> int | None:
    """`value` if it is a task id as the API takes one (a JSON integer that can name a row), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    return None


@extend_schema_field(
    {
        "oneOf": [_TASK_ID_SCHEMA, _TEMP_ID_SCHEMA],
        "description": "A task id, or the `temp_id` of an earlier `task.create` of this batch.",
    }
)
class TaskReferenceField(serializers.Field):
    """A task by id (a JSON integer) or by the temp id (a string) an earlier command gave it."""

    default_error_messages = {
        "invalid": "Enter a task id (an integer) or the temp_id of an earlier task.create (a string).",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and 1 <= len(data) <= TEMP_ID_MAX:
            return data
        if task_id_or_none(data) is None:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": (
            'The version the change is based on, as a number (`3`) or as `If-Match` takes it (`"3"`, `W/"3"`, '
            "`*`): 412 when it is not the current one."
        ),
    }
)
class IfMatchField(serializers.Field):
    """A command's `if_match`: a version, or the text of an `If-Match` header."""

    default_error_messages = {"invalid": 'Enter a version (an integer) or an ETag such as "3" (a string).'}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class BatchCommandSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=OPS, help_text="What the command does, as the endpoint it stands for.")
    temp_id = StrictCharField(
        min_length=1,
        max_length=TEMP_ID_MAX,
        trim_whitespace=False,
        required=False,
        help_text="`task.create` only: a name of the client's for the new task, unique in the batch, that later "
        "commands may use in `id`, `args.parent` and `args.task`.",
    )
    id = TaskReferenceField(required=False, help_text="`task.update` and `task.delete`: the task.")
    if_match = IfMatchField(required=False, help_text="`task.update` and `task.delete` only, like `If-Match`.")
    args = serializers.DictField(
        required=False,
        help_text="The body the command's endpoint takes: `POST /api/tasks/` (`task.create`), "
        "`PATCH /api/tasks/{id}/` (`task.update`), nothing (`task.delete`), `POST /api/tasks/{id}/comments/` "
        "with the task in `task` (`comment.create`).",
    )


@extend_schema_field(BatchCommandSerializer)
class _CommandShape(serializers.Field):
    """A command as it arrived: the list holds it unvalidated, the schema describes it."""

    def to_internal_value(self, data):
        return data


class BatchSerializer(serializers.Serializer):
    # Each command is validated when its turn comes (batch.commands); the schema shows its shape.
    commands = serializers.ListField(
        child=_CommandShape(),
        min_length=1,
        max_length=COMMANDS_MAX,
        help_text=f"1 to {COMMANDS_MAX} commands, applied in order.",
    )


# OpenAPI 3.0 has no null type, and `nullable` beside `oneOf` applies to none of its choices.
_NULL = {"type": "object", "nullable": True, "enum": [None], "description": "null"}


@extend_schema_field(
    {
        "oneOf": [component_ref("Task"), component_ref("Comment"), _NULL],
        "description": "What the endpoint answers: the task or the comment; null for `task.delete`.",
    }
)
class _CommandData(serializers.JSONField):
    pass


# Inside `allOf`: drf-spectacular names a property's enum after the property, and this `status`
# would take the name of the tasks' (renaming theirs).
@extend_schema_field(
    {
        "allOf": [{"type": "integer", "enum": [201, 200, 204]}],
        "description": "The endpoint's status: 201 created, 200 changed, 204 deleted.",
    }
)
class _CommandStatus(serializers.IntegerField):
    pass


class BatchResultSerializer(serializers.Serializer):
    status = _CommandStatus()
    data = _CommandData()


class BatchAppliedSerializer(serializers.Serializer):
    """A batch applied: each command's result, in order, and the ids its temp ids got."""

    results = BatchResultSerializer(many=True)
    temp_id_mapping = serializers.DictField(
        child=serializers.IntegerField(), help_text="Each `temp_id` of the batch and the id of the task it created."
    )


@extend_schema_field(
    {
        "oneOf": [component_ref(VALIDATION_ERROR), component_ref(ERROR), component_ref("Task")],
        "description": "The failing command's error, as its endpoint answers it: field errors, `detail`, or "
        "(412) the current task.",
    }
)
class _CommandError(serializers.JSONField):
    pass


class BatchFailedSerializer(serializers.Serializer):
    """A batch refused: nothing was applied."""

    failed = serializers.IntegerField(min_value=0, help_text="The index of the first command that failed.")
    error = _CommandError()
