"""The shapes of the events feed, for its OpenAPI description: one component per event type.

The feed renders events itself (`realtime.events.event_record`); these serializers only describe
what it renders. Each event type of the catalogue (realtime.catalogue) has its own component, so
that `data` is typed by the type's payload: the task for `task.created` and `task.updated`, `{id,
project}` for `task.deleted`, the project (without the caller's `role` and `event_seq`) for
`project.updated`, the member for `member.*`, the comment for `comment.*`, the attachment's metadata
for `attachment.*`, the invitation for `invitation.*`. `Event` is their union, told apart by `type`.
"""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from attachments.payloads import AttachmentPayload
from attachments.serializers import AttachmentSerializer
from comments.payloads import CommentPayload
from comments.serializers import CommentSerializer
from realtime.catalogue import CATALOGUE, EventKind
from realtime.models import Activity, EventType
from realtime.payloads import ActivityPayload, activity_payload
from tasks.payloads import InvitationPayload, MemberPayload, ProjectPayload, TaskDeletedPayload, TaskPayload
from tasks.serializers import InvitationSerializer, MemberSerializer, ProjectEventDataSerializer, TaskSerializer


class TaskDeletedDataSerializer(serializers.Serializer):
    """The `data` of `task.deleted`: which task of which project is gone."""

    id = serializers.IntegerField()
    project = serializers.IntegerField()


class _EventSerializer(serializers.Serializer):
    """The fields every event has; each event type's serializer adds `type` and `data`."""

    seq = serializers.IntegerField(help_text="The event's number in its project's log: 1, 2, 3, ... with no gaps.")
    project = serializers.IntegerField()
    actor = serializers.IntegerField(allow_null=True, help_text="The user who made the change, if any.")
    at = serializers.DateTimeField()


# The serializer describing each payload of the catalogue (what its builder in <app>/payloads.py
# makes; each app's test_payloads.py keeps the two equal).
DATA_SERIALIZERS: dict[type, type[serializers.Serializer]] = {
    TaskPayload: TaskSerializer,
    TaskDeletedPayload: TaskDeletedDataSerializer,
    ProjectPayload: ProjectEventDataSerializer,
    MemberPayload: MemberSerializer,
    CommentPayload: CommentSerializer,
    AttachmentPayload: AttachmentSerializer,
    InvitationPayload: InvitationSerializer,
}


def _event_serializer(kind: EventKind) -> type[serializers.Serializer]:
    """The component of one event type: the common fields, `type` (that type alone) and its `data`."""
    name = "".join(part.title() for part in kind.type.value.split("."))  # task.created -> TaskCreated
    fields = {
        "type": serializers.ChoiceField(choices=[kind.type.value]),
        "data": DATA_SERIALIZERS[kind.payload](),
        "__doc__": kind.summary,
        "__module__": __name__,
    }
    return type(f"{name}EventSerializer", (_EventSerializer,), fields)


# Keyed by the `type` that tells the components apart; every type of the catalogue has one.
EVENT_SERIALIZERS = {kind.type: _event_serializer(kind) for kind in CATALOGUE}


class EventPageSerializer(serializers.Serializer):
    """A page of the feed: events after `since`, in seq order."""

    events = PolymorphicProxySerializer(
        component_name="Event",
        serializers={event_type.value: serializer for event_type, serializer in EVENT_SERIALIZERS.items()},
        resource_type_field_name="type",
        many=True,
    )
    last_seq = serializers.IntegerField()
    has_more = serializers.BooleanField()


HISTORY_KINDS = [kind.type.value for kind in CATALOGUE if kind.history]


class ActivitySerializer(serializers.ModelSerializer):
    """An entry of the activity history (ActivityPayload)."""

    task = serializers.IntegerField(
        source="task_id", allow_null=True, help_text="The task the change is about (a deleted one's id too)."
    )
    kind = serializers.ChoiceField(choices=[(value, EventType(value).label) for value in HISTORY_KINDS])
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2, allow_empty=False, child=serializers.JSONField()),
        help_text="Each field that changed, as the API shows it: `[old, new]` (null for a creation's old and a "
        "deletion's new values).",
    )

    class Meta:
        model = Activity
        fields = ["id", "project", "task", "actor", "at", "kind", "changes"]
        read_only_fields = fields

    def to_representation(self, instance: Activity) -> ActivityPayload:
        return activity_payload(instance)
