"""`manage.py seed_demo`: demo users, a project and tasks in every status, idempotently."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from realtime.models import Event
from tasks.management.commands.seed_demo import DEMO_PASSWORD, DEMO_PROJECT
from tasks.models import Membership, Project, Role, Status, Task

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_a_project_with_every_role_and_status():
    _seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    roles = set(Membership.objects.filter(project=project).values_list("role", flat=True))
    assert roles == set(Role.values)
    statuses = set(Task.objects.filter(project=project).values_list("status", flat=True))
    assert statuses == set(Status.values)
    assert project.event_seq == Event.objects.filter(project=project).count()


def test_seed_demo_prints_logins_that_work(api_client):
    output = _seed()
    for username in ("demo-owner", "demo-admin", "demo-member", "demo-viewer", "demo-operator"):
        assert username in output
        response = api_client.post("/api/auth/token/", {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200, username
    assert User.objects.get(username="demo-operator").is_superuser


def test_seed_demo_twice_changes_nothing():
    _seed()
    counts = (User.objects.count(), Project.objects.count(), Task.objects.count(), Event.objects.count())
    _seed()
    assert (User.objects.count(), Project.objects.count(), Task.objects.count(), Event.objects.count()) == counts
