"""Every event type, applied to a client's previous state, gives what a fresh GET shows.

The client is the Python client's (clients/python, `taskflow_client.ProjectMirror`); the events
come from the changes feed, the same records the WebSocket sends.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from taskflow_client import ProjectMirror

from realtime.catalogue import CATALOGUE

pytestmark = pytest.mark.django_db


def _fresh(client, project_id: int) -> dict:
    tasks = client.get(f"/api/tasks/?project={project_id}&page_size=200").json()["results"]
    members = client.get(f"/api/projects/{project_id}/members/?page_size=200")
    project = client.get(f"/api/projects/{project_id}/").json()
    comments, attachments = {}, {}
    for task in tasks:
        for comment in client.get(f"/api/tasks/{task['id']}/comments/?page_size=200").json()["results"]:
            comments[comment["id"]] = comment
        for attachment in client.get(f"/api/tasks/{task['id']}/attachments/?page_size=200").json()["results"]:
            attachments[attachment["id"]] = attachment
    return {
        "project": {key: value for key, value in project.items() if key not in ("role", "event_seq")},
        "members": {member["user"]: member for member in members.json()["results"]},
        "tasks": {task["id"]: task for task in tasks},
        "comments": comments,
        "attachments": attachments,
        "seq": project["event_seq"],
    }


def _state(mirror) -> dict:
    return {
        "project": mirror.project,
        "members": mirror.members,
        "tasks": mirror.tasks,
        "comments": mirror.comments,
        "attachments": mirror.attachments,
        "seq": mirror.seq,
    }


@pytest.fixture
def mirror(client, project):
    """A client's copy of the project, loaded once, then kept up to date only by events."""
    state = _fresh(client, project.pk)
    copy = ProjectMirror()
    copy.load(
        project={**state["project"], "role": "owner"},
        members=list(state["members"].values()),
        tasks=list(state["tasks"].values()),
        comments=list(state["comments"].values()),
        attachments=list(state["attachments"].values()),
        seq=state["seq"],
    )
    return copy


def _apply_new_events(client, mirror, project_id: int, *, expected_types: list[str]) -> None:
    feed = client.get(f"/api/projects/{project_id}/events/?since={mirror.seq}").json()
    assert [event["type"] for event in feed["events"]] == expected_types
    for event in feed["events"]:
        mirror.apply(event)


def _assert_in_sync(client, mirror, project_id: int) -> None:
    assert _state(mirror) == _fresh(client, project_id)


def test_task_created_applies(client, project, mirror):
    client.post("/api/tasks/", {"project": project.pk, "title": "New", "labels": ["a", "b"], "priority": "high"})
    _apply_new_events(client, mirror, project.pk, expected_types=["task.created"])
    _assert_in_sync(client, mirror, project.pk)


def test_task_updated_applies(client, project, mirror):
    task = client.post("/api/tasks/", {"project": project.pk, "title": "Old"}).json()
    client.patch(f"/api/tasks/{task['id']}/", {"title": "New", "status": "done", "labels": ["x"]})
    _apply_new_events(client, mirror, project.pk, expected_types=["task.created", "task.updated"])
    _assert_in_sync(client, mirror, project.pk)


def test_task_replaced_with_put_applies(client, project, mirror):
    task = client.post("/api/tasks/", {"project": project.pk, "title": "Old", "description": "d"}).json()
    client.put(f"/api/tasks/{task['id']}/", {"title": "Whole", "description": "", "priority": "low"})
    _apply_new_events(client, mirror, project.pk, expected_types=["task.created", "task.updated"])
    _assert_in_sync(client, mirror, project.pk)


def test_task_deleted_applies(client, project, mirror):
    task = client.post("/api/tasks/", {"project": project.pk, "title": "Doomed"}).json()
    client.delete(f"/api/tasks/{task['id']}/")
    _apply_new_events(client, mirror, project.pk, expected_types=["task.created", "task.deleted"])
    _assert_in_sync(client, mirror, project.pk)


def test_project_updated_applies(client, project, mirror):
    client.patch(f"/api/projects/{project.pk}/", {"name": "Renamed", "description": "Now with a plan"})
    _apply_new_events(client, mirror, project.pk, expected_types=["project.updated"])
    _assert_in_sync(client, mirror, project.pk)


def test_member_added_updated_and_removed_apply(client, project, mirror, add_member):
    other = add_member("viewer")
    client.patch(f"/api/projects/{project.pk}/members/{other.pk}/", {"role": "member"})
    _apply_new_events(client, mirror, project.pk, expected_types=["member.added", "member.updated"])
    _assert_in_sync(client, mirror, project.pk)

    client.delete(f"/api/projects/{project.pk}/members/{other.pk}/")
    _apply_new_events(client, mirror, project.pk, expected_types=["member.removed"])
    _assert_in_sync(client, mirror, project.pk)


def test_removing_an_assignee_applies_as_task_updates_then_member_removed(client, project, mirror, add_member):
    other = add_member("member")
    client.post("/api/tasks/", {"project": project.pk, "title": "Theirs", "assignee": other.pk})
    client.delete(f"/api/projects/{project.pk}/members/{other.pk}/")
    _apply_new_events(
        client,
        mirror,
        project.pk,
        expected_types=["member.added", "task.created", "task.updated", "member.removed"],
    )
    _assert_in_sync(client, mirror, project.pk)


# --- Every type of the catalogue -----------------------------------------------------------------


def _task(client, project) -> dict:
    return client.post("/api/tasks/", {"project": project.pk, "title": "Existing"}).json()


# For each event type: a change that records it (after setting up what it needs).
SCENARIOS = {
    "task.created": lambda client, project, add_member: client.post(
        "/api/tasks/", {"project": project.pk, "title": "New", "labels": ["a"], "due_at": "2031-01-01T00:00:00Z"}
    ),
    "task.updated": lambda client, project, add_member: client.patch(
        f"/api/tasks/{_task(client, project)['id']}/", {"status": "done", "priority": "urgent", "labels": []}
    ),
    "task.deleted": lambda client, project, add_member: client.delete(f"/api/tasks/{_task(client, project)['id']}/"),
    "project.updated": lambda client, project, add_member: client.patch(
        f"/api/projects/{project.pk}/", {"description": "Changed"}
    ),
    "member.added": lambda client, project, add_member: add_member("viewer"),
    "member.updated": lambda client, project, add_member: client.patch(
        f"/api/projects/{project.pk}/members/{add_member('viewer').pk}/", {"role": "admin"}
    ),
    "member.removed": lambda client, project, add_member: client.delete(
        f"/api/projects/{project.pk}/members/{add_member('member').pk}/"
    ),
}


def _comment(client, project) -> dict:
    return client.post(f"/api/tasks/{_task(client, project)['id']}/comments/", {"body": "First"}).json()


SCENARIOS |= {
    "comment.created": lambda client, project, add_member: _comment(client, project),
    "comment.updated": lambda client, project, add_member: client.patch(
        f"/api/comments/{_comment(client, project)['id']}/", {"body": "Second thoughts"}
    ),
    "comment.deleted": lambda client, project, add_member: client.delete(
        f"/api/comments/{_comment(client, project)['id']}/"
    ),
}


def _attachment(client, project) -> dict:
    upload = SimpleUploadedFile("notes.txt", b"some notes", content_type="text/plain")
    path = f"/api/tasks/{_task(client, project)['id']}/attachments/"
    return client.post(path, {"file": upload}, format="multipart").json()


SCENARIOS |= {
    "attachment.added": lambda client, project, add_member: _attachment(client, project),
    "attachment.removed": lambda client, project, add_member: client.delete(
        f"/api/attachments/{_attachment(client, project)['id']}/"
    ),
}


def _invitation(client, project) -> dict:
    return client.post(f"/api/projects/{project.pk}/invitations/", {"email": "invitee@example.com"}).json()


# Invitations change nothing of the copy (its tasks and members): the mirror only moves its seq on.
SCENARIOS |= {
    "invitation.created": lambda client, project, add_member: _invitation(client, project),
    "invitation.revoked": lambda client, project, add_member: client.delete(
        f"/api/projects/{project.pk}/invitations/{_invitation(client, project)['id']}/"
    ),
}


def test_every_type_of_the_catalogue_has_a_scenario_here():
    assert set(SCENARIOS) == {kind.type.value for kind in CATALOGUE}


@pytest.mark.parametrize("kind", CATALOGUE, ids=lambda kind: kind.type.value)
def test_every_event_type_applies_to_the_previous_state(client, project, mirror, add_member, kind):
    SCENARIOS[kind.type.value](client, project, add_member)
    feed = client.get(f"/api/projects/{project.pk}/events/?since={mirror.seq}").json()
    assert kind.type.value in [event["type"] for event in feed["events"]]
    for event in feed["events"]:
        mirror.apply(event)
    _assert_in_sync(client, mirror, project.pk)
