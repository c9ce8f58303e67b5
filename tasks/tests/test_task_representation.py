"""The hand-written task representation is exactly what TaskSerializer's declared fields render."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from rest_framework import serializers

from tasks.serializers import TaskSerializer, task_representation
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def rendered_by_the_fields(task) -> dict:
    """What DRF renders from TaskSerializer's fields, bypassing its to_representation override."""
    return serializers.ModelSerializer.to_representation(TaskSerializer(task), task)


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
def test_representation_matches_the_serializer_fields(project, add_member, data):
    member = add_member("member")
    task = make_task(project=project, assignee=member.pk, **data)
    task.refresh_from_db()
    assert task_representation(task) == rendered_by_the_fields(task)
    assert TaskSerializer(task).data == rendered_by_the_fields(task)


def test_representation_follows_the_active_time_zone_as_drf_does(project):
    task = make_task(project=project, due_at=datetime(2031, 1, 1, 12, tzinfo=UTC))
    task.refresh_from_db()
    assert task_representation(task)["due_at"] == "2031-01-01T12:00:00Z"
    with timezone.override("Europe/Paris"):
        assert task_representation(task)["due_at"] == "2031-01-01T13:00:00+01:00"
        assert task_representation(task) == rendered_by_the_fields(task)
