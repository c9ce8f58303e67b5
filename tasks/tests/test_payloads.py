"""Each hand-written payload is exactly what its serializer's declared fields render, and its TypedDict's keys."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from rest_framework import serializers

from tasks.models import Membership
from tasks.payloads import MemberPayload, ProjectPayload, TaskPayload, member_payload, project_payload, task_payload
from tasks.serializers import MemberSerializer, ProjectEventDataSerializer, TaskSerializer
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def rendered_by_the_fields(instance, serializer_class=TaskSerializer) -> dict:
    """What DRF renders from a serializer's fields, bypassing its to_representation override."""
    return serializers.ModelSerializer.to_representation(serializer_class(instance), instance)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "description": 'Ünïcode — and "quotes"',
                "status": "done",
                "priority": 4,
                "due_at": datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
                "labels": ["ops", "Café"],
                "position": 2.5,
            },
            id="every-field-set",
        ),
        pytest.param({"due_at": datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC), "priority": 1}, id="whole-seconds"),
        pytest.param({"status": "in_progress", "priority": 3, "position": 7}, id="integral-position"),
    ],
)
def test_task_payload_matches_the_serializer_fields(project, add_member, data):
    member = add_member("member")
    task = make_task(project=project, assignee=member.pk, **data)
    task.refresh_from_db()
    assert task_payload(task) == rendered_by_the_fields(task)
    assert TaskSerializer(task).data == rendered_by_the_fields(task)


def test_task_payload_follows_the_active_time_zone_as_drf_does(project):
    task = make_task(project=project, due_at=datetime(2031, 1, 1, 12, tzinfo=UTC))
    task.refresh_from_db()
    assert task_payload(task)["due_at"] == "2031-01-01T12:00:00Z"
    with timezone.override("Europe/Paris"):
        assert task_payload(task)["due_at"] == "2031-01-01T13:00:00+01:00"
        assert task_payload(task) == rendered_by_the_fields(task)


def test_project_payload_matches_the_serializer_fields(project):
    project.refresh_from_db()
    assert project_payload(project) == rendered_by_the_fields(project, ProjectEventDataSerializer)


def test_member_payload_matches_the_serializer_fields(project, add_member):
    member = add_member("viewer")
    membership = Membership.objects.select_related("user").get(project=project, user=member)
    assert member_payload(membership) == rendered_by_the_fields(membership, MemberSerializer)


@pytest.mark.parametrize(
    ("payload_type", "build"),
    [(TaskPayload, "task"), (ProjectPayload, "project"), (MemberPayload, "member")],
)
def test_payloads_have_exactly_their_typed_keys(project, payload_type, build):
    instance = {
        "task": lambda: make_task(project=project),
        "project": lambda: project,
        "member": lambda: Membership.objects.select_related("user").get(project=project),
    }[build]()
    payload = {"task": task_payload, "project": project_payload, "member": member_payload}[build](instance)
    assert list(payload) == list(payload_type.__annotations__)
