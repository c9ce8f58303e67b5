"""The shapes in which projects, members and tasks leave TaskFlow: one typed payload per shape.

The API renders them (tasks.serializers' `to_representation`), the events carry them
(tasks.signals: realtime records them as each event's `data`), and the OpenAPI schema and the
event catalogue describe them (realtime.catalogue). One function builds each: what a client reads
from `GET /api/tasks/{id}/` and what a `task.updated` event carries cannot differ.

Written out by hand rather than rendered field by field through DRF, which dominated the cost of
a list request (bench/README.md); a test keeps TaskSerializer's declared fields producing the
same dict (tasks/tests/test_tasks_api.py).
"""

from typing import TypedDict

from django.utils import timezone

from taskflow.times import datetime_text
from tasks.models import Invitation, Membership, Priority, Project, Task


class ChecklistItemPayload(TypedDict):
    """One item of a task's checklist; `id` is the task's own numbering."""

    id: int
    text: str
    done: bool


class TaskPayload(TypedDict):
    """A task: `GET /api/tasks/{id}/`, and the data of `task.created` and `task.updated`."""

    id: int
    project: int
    title: str
    description: str
    status: str
    priority: str
    assignee: int | None
    created_by: int | None
    due_at: str | None
    labels: list[str]
    position: float
    parent: int | None
    checklist: list[ChecklistItemPayload]
    version: int
    created_at: str
    updated_at: str
    completed_at: str | None


class TaskDeletedPayload(TypedDict):
    """The data of `task.deleted`: which task it was."""

    id: int
    project: int


class ProjectPayload(TypedDict):
    """A project as every member sees it: the data of `project.updated` (the API adds the
    caller's `role` and the latest `event_seq`, which differ per caller and per event)."""

    id: int
    name: str
    description: str
    owner: int
    created_at: str
    updated_at: str


class MemberPayload(TypedDict):
    """A member: `GET /api/projects/{id}/members/`, and the data of `member.*` events."""

    user: int
    username: str
    role: str
    joined_at: str


_PRIORITY_NAMES = {rank: name for rank, name in Priority.choices}


def task_payload(task: Task) -> TaskPayload:
    zone = timezone.get_current_timezone()  # once per task: pages render fifty of them
    return {
        "id": task.pk,
        "project": task.project_id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "priority": _PRIORITY_NAMES[task.priority],
        "assignee": task.assignee_id,
        "created_by": task.created_by_id,
        "due_at": datetime_text(task.due_at, zone),
        "labels": list(task.labels),
        "position": float(task.position),
        "parent": task.parent_id,
        "checklist": [dict(item) for item in task.checklist],
        "version": task.version,
        "created_at": datetime_text(task.created_at, zone),
        "updated_at": datetime_text(task.updated_at, zone),
        "completed_at": datetime_text(task.completed_at, zone),
    }


def task_deleted_payload(task: Task) -> TaskDeletedPayload:
    return {"id": task.pk, "project": task.project_id}


def project_payload(project: Project) -> ProjectPayload:
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "owner": project.owner_id,
        "created_at": datetime_text(project.created_at),
        "updated_at": datetime_text(project.updated_at),
    }


def member_payload(membership: Membership) -> MemberPayload:
    return {
        "user": membership.user_id,
        "username": membership.user.username,
        "role": membership.role,
        "joined_at": datetime_text(membership.joined_at),
    }


class InvitationPayload(TypedDict):
    """An invitation to a project: `GET /api/projects/{id}/invitations/`, and the data of
    `invitation.*` events (never its token)."""

    id: int
    email: str
    role: str
    invited_by: int | None
    created_at: str
    expires_at: str


def invitation_payload(invitation: Invitation) -> InvitationPayload:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by_id,
        "created_at": datetime_text(invitation.created_at),
        "expires_at": datetime_text(invitation.expires_at),
    }
