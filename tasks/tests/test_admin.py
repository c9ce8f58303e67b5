"""The Django admin as an operator uses it: pages, search, filters, actions and edits.

Changes made in the admin go through the services: versions move on and events are recorded with
the operator as their actor, as for changes made through the API.
"""

import json

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from realtime.models import Event
from tasks import services
from tasks.models import Membership, Priority, Project, Role, Status, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

TASKS = "/admin/tasks/task/"


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def listed(response) -> list:
    """The rows an operator sees on a changelist page."""
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def events_after(project: Project, seq: int) -> list[Event]:
    return list(Event.objects.filter(project=project, seq__gt=seq).order_by("seq"))


def run_action(admin_client, action: str, tasks: list[Task], **extra):
    data = {"action": action, "_selected_action": [task.pk for task in tasks], **extra}
    return admin_client.post(TASKS, data, follow=True)


# --- Pages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/tasks/project/",
        "/admin/tasks/membership/",
        "/admin/tasks/task/",
        "/admin/realtime/event/",
        "/admin/accounts/user/add/",
        "/admin/tasks/project/add/",
        "/admin/tasks/membership/add/",
        "/admin/tasks/task/add/",
    ],
)
def test_admin_page_renders(admin_client, project, path):
    make_task(project=project, labels=["ui"])
    assert admin_client.get(path).status_code == 200


def test_user_change_page_renders(admin_client, user):
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_project_change_page_renders_with_its_members(admin_client, project, add_member):
    member = add_member(role="viewer")
    response = admin_client.get(f"/admin/tasks/project/{project.pk}/change/")
    assert response.status_code == 200
    assert member.username in response.content.decode()


def test_membership_change_page_renders(admin_client, project):
    membership = Membership.objects.get(project=project)
    assert admin_client.get(f"/admin/tasks/membership/{membership.pk}/change/").status_code == 200


def test_task_change_page_renders(admin_client, project):
    task = make_task(project=project, title="Fix login", labels=["bug"])
    response = admin_client.get(f"/admin/tasks/task/{task.pk}/change/")
    assert response.status_code == 200
    assert "Fix login" in response.content.decode()


def test_event_change_page_renders_read_only(admin_client, project):
    event = Event.objects.get(project=project, seq=1)
    response = admin_client.get(f"/admin/realtime/event/{event.pk}/change/")
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


def test_events_cannot_be_added_in_the_admin(admin_client, project):
    assert admin_client.get("/admin/realtime/event/add/").status_code == 403


def test_events_cannot_be_deleted_in_the_admin(admin_client, project):
    # The log is history: a deleted event would be a gap that clients catching up never notice.
    event = Event.objects.get(project=project, seq=1)
    assert admin_client.get(f"/admin/realtime/event/{event.pk}/delete/").status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_admin_needs_a_staff_login(user):
    client = Client()
    client.force_login(user)
    response = client.get(TASKS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- Search and filters -------------------------------------------------------------------------


def test_user_search_finds_by_username(admin_client, user):
    other = UserFactory(username="zebra")
    assert listed(admin_client.get("/admin/accounts/user/", {"q": "zebra"})) == [other]


def test_user_filter_by_staff(admin_client, user, operator):
    assert listed(admin_client.get("/admin/accounts/user/", {"is_staff__exact": "1"})) == [operator]


def test_project_search_finds_by_name(admin_client, project, user):
    other = services.project_create(actor=user, name="Garden shed")
    assert listed(admin_client.get("/admin/tasks/project/", {"q": "shed"})) == [other]


def test_project_search_finds_by_owner_username(admin_client, project, user):
    services.project_create(actor=UserFactory(), name="Someone else's")
    assert listed(admin_client.get("/admin/tasks/project/", {"q": user.username})) == [project]


def test_membership_search_finds_by_username(admin_client, project, add_member):
    viewer = add_member(role="viewer")
    rows = listed(admin_client.get("/admin/tasks/membership/", {"q": viewer.username}))
    assert [row.user for row in rows] == [viewer]


def test_membership_filter_by_role(admin_client, project, add_member):
    viewer = add_member(role="viewer")
    add_member(role="member")
    rows = listed(admin_client.get("/admin/tasks/membership/", {"role__exact": "viewer"}))
    assert [row.user for row in rows] == [viewer]


def test_task_search_finds_by_title(admin_client, project):
    wanted = make_task(project=project, title="Fix the login page")
    make_task(project=project, title="Write docs")
    assert listed(admin_client.get(TASKS, {"q": "login"})) == [wanted]


def test_task_search_finds_by_assignee_username(admin_client, project, add_member):
    member = add_member()
    wanted = make_task(project=project, assignee=member.pk)
    make_task(project=project)
    assert listed(admin_client.get(TASKS, {"q": member.username})) == [wanted]


def test_task_filter_by_status(admin_client, project):
    done = make_task(project=project, status=Status.DONE)
    make_task(project=project)
    assert listed(admin_client.get(TASKS, {"status__exact": "done"})) == [done]


def test_task_filter_by_priority(admin_client, project):
    urgent = make_task(project=project, priority=Priority.URGENT)
    make_task(project=project)
    assert listed(admin_client.get(TASKS, {"priority__exact": str(Priority.URGENT.value)})) == [urgent]


def test_task_filter_by_project(admin_client, project, user):
    other_project = services.project_create(actor=user, name="Other")
    wanted = make_task(project=other_project)
    make_task(project=project)
    assert listed(admin_client.get(TASKS, {"project__id__exact": str(other_project.pk)})) == [wanted]


def test_event_search_finds_by_project_name(admin_client, project, user):
    other = services.project_create(actor=user, name="Garden shed")
    rows = listed(admin_client.get("/admin/realtime/event/", {"q": "shed"}))
    assert [(row.project, row.type) for row in rows] == [(other, "member.added")]


def test_event_filter_by_type(admin_client, project):
    task = make_task(project=project)
    rows = listed(admin_client.get("/admin/realtime/event/", {"type__exact": "task.created"}))
    assert [row.data["id"] for row in rows] == [task.pk]


# --- Task actions -------------------------------------------------------------------------------


def test_mark_done_action_completes_the_selected_tasks(admin_client, project):
    first, second, untouched = (make_task(project=project) for _ in range(3))
    response = run_action(admin_client, "mark_done", [first, second])
    assert response.status_code == 200
    assert "2 task(s) marked done." in messages_of(response)
    statuses = {task.pk: task.status for task in Task.objects.all()}
    assert statuses == {first.pk: Status.DONE, second.pk: Status.DONE, untouched.pk: Status.TODO}


def test_mark_done_action_sets_completed_at_and_bumps_version(admin_client, project):
    task = make_task(project=project)
    run_action(admin_client, "mark_done", [task])
    task.refresh_from_db()
    assert task.version == 2
    assert task.completed_at is not None


def test_mark_done_action_records_updates_by_the_operator(admin_client, operator, project):
    first, second = make_task(project=project), make_task(project=project)
    before = project.events.count()
    run_action(admin_client, "mark_done", [first, second])
    events = events_after(project, before)
    assert [(event.type, event.actor_id, event.data["status"]) for event in events] == [
        ("task.updated", operator.pk, "done"),
        ("task.updated", operator.pk, "done"),
    ]
    assert {event.data["id"] for event in events} == {first.pk, second.pk}


def test_mark_done_action_leaves_done_tasks_unchanged(admin_client, project):
    task = make_task(project=project, status=Status.DONE)
    before = project.events.count()
    response = run_action(admin_client, "mark_done", [task])
    assert "0 task(s) marked done." in messages_of(response)
    task.refresh_from_db()
    assert task.version == 1
    assert events_after(project, before) == []


def test_unassign_action_clears_the_assignee_and_bumps_version(admin_client, project, add_member):
    member = add_member()
    task = make_task(project=project, assignee=member.pk)
    response = run_action(admin_client, "unassign", [task])
    assert "1 task(s) unassigned." in messages_of(response)
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 2)


def test_unassign_action_records_an_update_by_the_operator(admin_client, operator, project, add_member):
    task = make_task(project=project, assignee=add_member().pk)
    before = project.events.count()
    run_action(admin_client, "unassign", [task])
    [event] = events_after(project, before)
    assert (event.type, event.actor_id, event.data["id"], event.data["assignee"]) == (
        "task.updated",
        operator.pk,
        task.pk,
        None,
    )


def test_assign_to_action_assigns_the_chosen_member(admin_client, project, add_member):
    member = add_member()
    first, second = make_task(project=project), make_task(project=project)
    response = run_action(admin_client, "assign_to", [first, second], assignee=str(member.pk))
    assert "2 task(s) reassigned." in messages_of(response)
    assert {(task.assignee_id, task.version) for task in Task.objects.all()} == {(member.pk, 2)}


def test_assign_to_action_records_updates_by_the_operator(admin_client, operator, project, add_member):
    member = add_member()
    task = make_task(project=project)
    before = project.events.count()
    run_action(admin_client, "assign_to", [task], assignee=str(member.pk))
    [event] = events_after(project, before)
    assert (event.type, event.actor_id, event.data["assignee"], event.data["version"]) == (
        "task.updated",
        operator.pk,
        member.pk,
        2,
    )


def test_assign_to_a_non_member_shows_an_error_and_changes_nothing(admin_client, project):
    outsider = UserFactory()
    task = make_task(project=project)
    before = project.events.count()
    response = run_action(admin_client, "assign_to", [task], assignee=str(outsider.pk))
    assert response.status_code == 200
    assert "The assignee must be a member of the project." in messages_of(response)
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 1)
    assert events_after(project, before) == []


def test_assign_to_across_projects_is_all_or_nothing(admin_client, project, user, add_member):
    member = add_member()
    other_project = services.project_create(actor=user, name="Other")
    here, there = make_task(project=project), make_task(project=other_project)
    response = run_action(admin_client, "assign_to", [here, there], assignee=str(member.pk))
    assert "The assignee must be a member of the project." in messages_of(response)
    assert {task.assignee_id for task in Task.objects.all()} == {None}
    assert project.events.filter(type="task.updated").count() == 0


def test_assign_to_without_a_user_shows_an_error(admin_client, project):
    task = make_task(project=project)
    response = run_action(admin_client, "assign_to", [task], assignee="")
    assert "Choose a user to assign the tasks to." in messages_of(response)
    task.refresh_from_db()
    assert task.version == 1


# --- Editing in the admin -----------------------------------------------------------------------


def task_form(task: Task, **changes) -> dict:
    """The task's change form as the admin renders it, with `changes` typed in."""
    data = {
        "project": task.project_id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "priority": task.priority,
        "assignee": task.assignee_id or "",
        "due_at_0": "",
        "due_at_1": "",
        "labels": "[]",
        "position": task.position,
        "parent": task.parent_id or "",
        "checklist": json.dumps(task.checklist),
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_editing_a_task_in_the_admin_bumps_its_version(admin_client, project):
    task = make_task(project=project, title="Old title")
    response = admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task, title="New title"))
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.version) == ("New title", 2)


def test_editing_a_task_in_the_admin_records_an_update_by_the_operator(admin_client, operator, project):
    task = make_task(project=project, title="Old title")
    before = project.events.count()
    admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task, title="New title"))
    [event] = events_after(project, before)
    assert (event.type, event.actor_id, event.data["title"], event.data["version"]) == (
        "task.updated",
        operator.pk,
        "New title",
        2,
    )


def test_saving_an_unchanged_task_in_the_admin_keeps_its_version(admin_client, project):
    task = make_task(project=project)
    admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task))
    task.refresh_from_db()
    assert task.version == 1


def test_marking_done_in_the_admin_form_sets_completed_at(admin_client, project):
    task = make_task(project=project)
    admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task, status="done"))
    task.refresh_from_db()
    assert (task.status, task.version) == (Status.DONE, 2)
    assert task.completed_at is not None


def test_assigning_a_non_member_in_the_task_form_shows_an_error_and_changes_nothing(admin_client, project):
    outsider = UserFactory()
    task = make_task(project=project)
    response = admin_client.post(
        f"/admin/tasks/task/{task.pk}/change/", task_form(task, assignee=outsider.pk), follow=True
    )
    assert response.status_code == 200
    assert "The assignee must be a member of the project." in response.content.decode()
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 1)


def test_writing_a_checklist_and_a_parent_in_the_task_form_goes_through_the_service(admin_client, project):
    parent, task = make_task(project=project, title="Parent"), make_task(project=project, title="Child")
    checklist = json.dumps([{"text": "Draft", "done": True}, {"text": "Review"}])
    response = admin_client.post(
        f"/admin/tasks/task/{task.pk}/change/", task_form(task, checklist=checklist, parent=parent.pk)
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.parent_id, task.version) == (parent.pk, 2)
    assert task.checklist == [{"id": 1, "text": "Draft", "done": True}, {"id": 2, "text": "Review", "done": False}]
    assert project.events.filter(type="task.updated").count() == 1


def test_an_invalid_checklist_or_parent_in_the_task_form_changes_nothing(admin_client, project):
    parent, task = make_task(project=project), make_task(project=project)
    make_task(project=project, parent=parent.pk)
    page = admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task, checklist='[{"text": ""}]'))
    assert page.status_code == 200
    assert "Item 1: text: This field may not be blank." in page.content.decode()
    # A parent that has one itself is refused by the service: the message says why.
    subtask = Task.objects.get(parent=parent)
    page = admin_client.post(f"/admin/tasks/task/{task.pk}/change/", task_form(task, parent=subtask.pk), follow=True)
    assert "subtasks are one level deep" in page.content.decode()
    task.refresh_from_db()
    assert (task.parent_id, task.checklist, task.version) == (None, [], 1)


def test_adding_a_task_in_the_admin_records_its_creation_by_the_operator(admin_client, operator, project):
    form = task_form(Task(project=project, title="From the admin", priority=Priority.HIGH, position=0))
    response = admin_client.post("/admin/tasks/task/add/", form)
    assert response.status_code == 302
    task = Task.objects.get(title="From the admin")
    event = project.events.get(type="task.created")
    assert (task.version, task.created_by, event.actor_id, event.data["id"]) == (1, operator, operator.pk, task.pk)


def test_deleting_a_task_in_the_admin_records_its_deletion_by_the_operator(admin_client, operator, project):
    task = make_task(project=project)
    response = admin_client.post(f"/admin/tasks/task/{task.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Task.objects.exists()
    event = project.events.get(type="task.deleted")
    assert (event.actor_id, event.data["id"]) == (operator.pk, task.pk)


def project_form(project: Project, **changes) -> dict:
    """The project's change form as the admin renders it, with `changes` typed in."""
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    data = {
        "name": project.name,
        "description": project.description,
        # The read-only members inline still posts its management form and row ids.
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": owner_membership.pk,
        "memberships-0-project": project.pk,
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_renaming_a_project_in_the_admin_changes_its_name(admin_client, project):
    response = admin_client.post(f"/admin/tasks/project/{project.pk}/change/", project_form(project, name="Renamed"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "Renamed"


def test_renaming_a_project_in_the_admin_records_an_update_by_the_operator(admin_client, operator, project):
    before = project.events.count()
    admin_client.post(f"/admin/tasks/project/{project.pk}/change/", project_form(project, name="Renamed"))
    events = events_after(project, before)
    assert [(event.type, event.actor_id, event.data["name"]) for event in events] == [
        ("project.updated", operator.pk, "Renamed")
    ]


def test_deleting_a_project_in_the_admin_removes_its_tasks_and_events(admin_client, project):
    make_task(project=project)
    response = admin_client.post(f"/admin/tasks/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Project.objects.exists()
    assert not Task.objects.exists()
    assert not Event.objects.exists()


# --- Memberships in the admin -------------------------------------------------------------------


def test_adding_an_owner_membership_is_refused_by_the_form(admin_client, project):
    newcomer = UserFactory()
    response = admin_client.post(
        "/admin/tasks/membership/add/",
        {"project": project.pk, "user": newcomer.pk, "role": Role.OWNER, "_save": "Save"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=newcomer).exists()


def test_making_a_member_owner_is_refused_by_the_form(admin_client, project, add_member):
    member = add_member()
    membership = Membership.objects.get(project=project, user=member)
    response = admin_client.post(
        f"/admin/tasks/membership/{membership.pk}/change/", {"role": Role.OWNER, "_save": "Save"}
    )
    assert response.status_code == 200
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER


def test_adding_a_member_in_the_admin_records_it_by_the_operator(admin_client, operator, project):
    newcomer = UserFactory()
    response = admin_client.post(
        "/admin/tasks/membership/add/",
        {"project": project.pk, "user": newcomer.pk, "role": Role.VIEWER, "_save": "Save"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=newcomer).role == Role.VIEWER
    event = project.events.get(type="member.added", data__user=newcomer.pk)
    assert (event.actor_id, event.data["role"]) == (operator.pk, "viewer")


def test_changing_a_member_role_in_the_admin_changes_it(admin_client, project, add_member):
    member = add_member(role="viewer")
    membership = Membership.objects.get(project=project, user=member)
    response = admin_client.post(
        f"/admin/tasks/membership/{membership.pk}/change/", {"role": Role.MEMBER, "_save": "Save"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER


def test_changing_a_member_role_in_the_admin_records_an_update_by_the_operator(
    admin_client, operator, project, add_member
):
    member = add_member(role="viewer")
    membership = Membership.objects.get(project=project, user=member)
    before = project.events.count()
    admin_client.post(f"/admin/tasks/membership/{membership.pk}/change/", {"role": Role.MEMBER, "_save": "Save"})
    events = events_after(project, before)
    assert [(event.type, event.actor_id, event.data["role"]) for event in events] == [
        ("member.updated", operator.pk, "member")
    ]


def test_adding_an_existing_member_again_is_refused_by_the_form(admin_client, project, add_member):
    member = add_member()
    response = admin_client.post(
        "/admin/tasks/membership/add/",
        {"project": project.pk, "user": member.pk, "role": Role.VIEWER, "_save": "Save"},
    )
    assert response.status_code == 200
    assert Membership.objects.get(project=project, user=member).role == Role.MEMBER


def test_deleting_the_owner_membership_in_the_admin_is_refused(admin_client, project, user):
    membership = Membership.objects.get(project=project, user=user)
    response = admin_client.post(f"/admin/tasks/membership/{membership.pk}/delete/", {"post": "yes"}, follow=True)
    assert Membership.objects.filter(pk=membership.pk).exists()
    # Refused either as a forbidden deletion or with the services' reason shown.
    assert response.status_code == 403 or (
        response.status_code == 200 and "The owner cannot be removed" in response.content.decode()
    )


def test_removing_a_member_in_the_admin_unassigns_their_tasks_and_records_it(
    admin_client, operator, project, add_member
):
    member = add_member()
    task = make_task(project=project, assignee=member.pk)
    before = project.events.count()
    membership = Membership.objects.get(project=project, user=member)
    admin_client.post(f"/admin/tasks/membership/{membership.pk}/delete/", {"post": "yes"})
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 2)
    events = events_after(project, before)
    assert [(event.type, event.actor_id) for event in events] == [
        ("task.updated", operator.pk),
        ("member.removed", operator.pk),
    ]


def test_deleting_a_user_in_the_admin_unassigns_their_tasks_with_events(admin_client, operator, project, add_member):
    member = add_member()
    task = make_task(project=project, assignee=member.pk)
    before = project.events.count()
    response = admin_client.post(f"/admin/accounts/user/{member.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.assignee_id, task.version) == (None, 2)
    assert [(event.type, event.actor_id) for event in events_after(project, before)] == [
        ("task.updated", operator.pk),
        ("member.removed", operator.pk),
    ]
