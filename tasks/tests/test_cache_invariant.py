"""The invariant the caches rely on (tasks.page_cache), over every service that writes.

Every visible change to a task moves its `version` and its project's event seq; every visible
change to a project or its members moves the seq. A page cached under a seq, and a task's JSON
cached under its version, are then never stale. Each public function of tasks.services (and the
deletion of a user, through the service or the ORM alone) has a scenario here; a new service
without one fails `test_every_writing_service_has_a_scenario`.
"""

import inspect
import re

import pytest
from django.core import mail

from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from operations.tests.jobs import commit_callbacks_run
from tasks import services
from tasks.models import Invitation, Membership, Project, Role, Task
from tasks.payloads import member_payload, project_payload, task_payload
from tasks.selectors import project_get_for_user, task_get_for_user
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

# What a client may cache and compare, without the fields that only say when or which version.
UNVERSIONED = ("version", "updated_at")


def snapshot(project_id: int) -> dict:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {"gone": True}
    members = Membership.objects.filter(project_id=project_id).select_related("user")
    return {
        "seq": project.event_seq,
        "project": {key: value for key, value in project_payload(project).items() if key != "updated_at"},
        "members": {membership.user_id: member_payload(membership) for membership in members},
        "tasks": {task.pk: task_payload(task) for task in Task.objects.filter(project_id=project_id)},
    }


def assert_invariant_kept(before: dict, after: dict) -> bool:
    """Asserts the invariant between two snapshots of a project; returns whether anything changed."""
    if after.get("gone"):
        return True  # a deleted project's pages are never asked for again: access is checked first
    changed = False
    for task_id in before["tasks"].keys() & after["tasks"].keys():
        old, new = before["tasks"][task_id], after["tasks"][task_id]
        if {k: v for k, v in old.items() if k not in UNVERSIONED} != {
            k: v for k, v in new.items() if k not in UNVERSIONED
        }:
            assert new["version"] > old["version"], (task_id, old, new)
            changed = True
    changed |= before["tasks"].keys() != after["tasks"].keys()
    changed |= before["members"] != after["members"] or before["project"] != after["project"]
    if changed:
        assert after["seq"] > before["seq"], (before, after)
    return changed


@pytest.fixture
def world(user, project, add_member):
    """A project with an admin, a member with an assigned task they created, and a viewer."""
    admin, member, viewer = add_member("admin"), add_member("member"), add_member("viewer")
    task = make_task(project=project, actor=member, assignee=member.pk, labels=["a"])
    return {"owner": user, "project": project, "admin": admin, "member": member, "viewer": viewer, "task": task}


def with_role(project: Project, user) -> Project:
    """The project as the selectors give it to `user`: with their `role`."""
    return project_get_for_user(user=user, project_id=project.pk)


def task_as(world, user) -> Task:
    return task_get_for_user(user=user, task_id=world["task"].pk)


SCENARIOS = {
    "project_create": lambda w: services.project_create(actor=w["owner"], name="Another"),
    "project_update": lambda w: services.project_update(
        project=with_role(w["project"], w["owner"]), actor=w["owner"], data={"name": "Renamed"}
    ),
    "project_delete": lambda w: services.project_delete(project=with_role(w["project"], w["owner"]), actor=w["owner"]),
    "member_add": lambda w: services.member_add(
        project=with_role(w["project"], w["owner"]), actor=w["owner"], user=UserFactory().pk, role=Role.VIEWER
    ),
    "member_change_role": lambda w: services.member_change_role(
        project=with_role(w["project"], w["owner"]),
        actor=w["owner"],
        membership=Membership.objects.get(project=w["project"], user=w["viewer"]),
        role=Role.MEMBER,
    ),
    "member_remove": lambda w: services.member_remove(
        project=with_role(w["project"], w["owner"]),
        actor=w["owner"],
        membership=Membership.objects.get(project=w["project"], user=w["member"]),
    ),
    "task_create": lambda w: services.task_create(
        project=with_role(w["project"], w["member"]), actor=w["member"], data={"title": "New"}
    ),
    "task_update": lambda w: services.task_update(
        task=task_as(w, w["member"]), actor=w["member"], data={"status": "done", "labels": ["b"]}
    ),
    "task_delete": lambda w: services.task_delete(task=task_as(w, w["member"]), actor=w["member"]),
    "task_bulk_update": lambda w: services.task_bulk_update(
        tasks=Task.objects.filter(project=w["project"]), actor=w["owner"], changes={"assignee": None}, operator=True
    ),
    "user_projects_leave": lambda w: services.user_projects_leave(user=w["member"], actor=w["owner"]),
    "invitation_create": lambda w: services.invitation_create(
        project=with_role(w["project"], w["admin"]), actor=w["admin"], email="invitee@example.com"
    ),
    "invitation_revoke": lambda w: services.invitation_revoke(
        project=with_role(w["project"], w["owner"]), actor=w["owner"], invitation=invited(w)[0]
    ),
    "invitation_accept": lambda w: services.invitation_accept(token=invited(w)[1], actor=UserFactory()),
}

# What changes nothing a cached page shows (invitations are not in one): their events move the seq all the same.
UNCACHED = {"project_create", "invitation_create", "invitation_revoke"}


def invited(w) -> tuple[Invitation, str]:
    """A pending invitation to the world's project, and its token (from its email)."""
    invitation = services.invitation_create(
        project=w["project"], actor=w["owner"], email="invitee@example.com", operator=True
    )
    commit_callbacks_run()  # the email goes after the commit
    return invitation, re.search(r"^    (\S+)$", mail.outbox[-1].body, re.MULTILINE).group(1)


def test_every_writing_service_has_a_scenario():
    public = {
        name
        for name, function in inspect.getmembers(services, inspect.isfunction)
        if function.__module__ == services.__name__ and not name.startswith("_")
    }
    # What checks or locks for the services of other apps, and writes nothing itself.
    assert public - {"require_role", "require_own_or_editor", "task_row_lock"} == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_service_moves_the_seq_and_the_version_with_what_it_changes(world, name):
    before = snapshot(world["project"].pk)
    SCENARIOS[name](world)
    after = snapshot(world["project"].pk)
    changed = assert_invariant_kept(before, after)
    # Every scenario but those changing nothing cached changes this project: the check above ran on a change.
    assert changed or name in UNCACHED
    if name in UNCACHED - {"project_create"}:
        assert after["seq"] > before["seq"]


@pytest.mark.parametrize("how", ["service", "orm", "queryset"])
def test_deleting_a_user_however_it_is_done_moves_the_seq_and_the_versions(world, how):
    before = snapshot(world["project"].pk)
    member = world["member"]
    if how == "service":
        user_delete(user=member, actor=world["owner"])
    elif how == "orm":
        member.delete()
    else:
        type(member).objects.filter(pk=member.pk).delete()
    after = snapshot(world["project"].pk)
    assert assert_invariant_kept(before, after)
    task = after["tasks"][world["task"].pk]
    assert (task["assignee"], task["created_by"]) == (None, None)
    assert member.pk not in after["members"]


def test_a_user_deleted_without_the_service_is_recorded_as_a_system_change(world):
    project = world["project"]
    seq = snapshot(project.pk)["seq"]
    world["member"].delete()
    events = list(project.events.filter(seq__gt=seq).order_by("seq").values_list("type", "actor_id"))
    assert events == [("task.updated", None), ("member.removed", None), ("task.updated", None)]
