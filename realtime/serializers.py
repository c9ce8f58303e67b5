"""The shapes of the events feed, for its OpenAPI description: one component per event type.

The feed renders events itself (`realtime.events.event_record`); these serializers only describe
what it renders. Each event type has its own component, so that `data` is typed: the task for
`task.created` and `task.updated`, `{id, project}` for `task.deleted`, the project (without the
caller's `role` and `event_seq`) for `project.updated`, the member for `member.*`. `Event` is
their union, told apart by `type`.
"""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from realtime.models import EventType
from tasks.serializers import MemberSerializer, ProjectEventDataSerializer, TaskSerializer


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


def _type_field(event_type: EventType) -> serializers.ChoiceField:
    """The `type` of one event type's component: that type alone (an enum of one value)."""
    return serializers.ChoiceField(choices=[event_type.value])


class TaskCreatedEventSerializer(_EventSerializer):
    """A task was created: `data` is the new task."""

    type = _type_field(EventType.TASK_CREATED)
    data = TaskSerializer()


class TaskUpdatedEventSerializer(_EventSerializer):
    """A task changed: `data` is the task after the change."""

    type = _type_field(EventType.TASK_UPDATED)
    data = TaskSerializer()


class TaskDeletedEventSerializer(_EventSerializer):
    """A task was deleted: `data` names it."""

    type = _type_field(EventType.TASK_DELETED)
    data = TaskDeletedDataSerializer()


class ProjectUpdatedEventSerializer(_EventSerializer):
    """The project's name or description changed: `data` is the project after the change."""

    type = _type_field(EventType.PROJECT_UPDATED)
    data = ProjectEventDataSerializer()


class MemberAddedEventSerializer(_EventSerializer):
    """A user joined the project: `data` is the new member."""

    type = _type_field(EventType.MEMBER_ADDED)
    data = MemberSerializer()


class MemberUpdatedEventSerializer(_EventSerializer):
    """A member's role changed: `data` is the member after the change."""

    type = _type_field(EventType.MEMBER_UPDATED)
    data = MemberSerializer()


class MemberRemovedEventSerializer(_EventSerializer):
    """A member left or was removed: `data` is the member as they were."""

    type = _type_field(EventType.MEMBER_REMOVED)
    data = MemberSerializer()


# Keyed by the `type` that tells the components apart; every event type has one.
EVENT_SERIALIZERS = {
    EventType.TASK_CREATED: TaskCreatedEventSerializer,
    EventType.TASK_UPDATED: TaskUpdatedEventSerializer,
    EventType.TASK_DELETED: TaskDeletedEventSerializer,
    EventType.PROJECT_UPDATED: ProjectUpdatedEventSerializer,
    EventType.MEMBER_ADDED: MemberAddedEventSerializer,
    EventType.MEMBER_UPDATED: MemberUpdatedEventSerializer,
    EventType.MEMBER_REMOVED: MemberRemovedEventSerializer,
}


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
