"""`manage.py prune_events`: old events go, recent ones stay, and catching up past them is a 410."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from realtime.models import Event
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def _age_events(project, *, upto_seq: int, days: int) -> None:
    Event.objects.filter(project=project, seq__lte=upto_seq).update(created_at=timezone.now() - timedelta(days=days))


def _prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_events", *args, stdout=out)
    return out.getvalue()


def test_prune_events_deletes_only_events_older_than_retention(project, settings):
    settings.TASKFLOW_EVENT_RETENTION = timedelta(days=7)
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    _age_events(project, upto_seq=2, days=8)

    assert "Deleted 2 event(s)" in _prune()

    assert list(Event.objects.filter(project=project).values_list("seq", flat=True)) == [3, 4]


def test_prune_events_dry_run_deletes_nothing(project):
    make_task(project=project)
    _age_events(project, upto_seq=2, days=30)

    assert "2 event(s)" in _prune("--dry-run")

    assert Event.objects.filter(project=project).count() == 2


def test_changes_feed_is_gone_for_a_client_behind_the_pruned_events(client, project):
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    _age_events(project, upto_seq=2, days=30)
    _prune()

    assert client.get(f"/api/projects/{project.pk}/events/?since=1").status_code == 410
    response = client.get(f"/api/projects/{project.pk}/events/?since=2")
    assert response.status_code == 200
    assert [event["seq"] for event in response.json()["events"]] == [3, 4]
