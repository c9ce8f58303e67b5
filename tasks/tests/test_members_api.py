"""Members API: `/api/projects/{id}/members/` and `/api/projects/{id}/members/{user_id}/`."""

import pytest

from accounts.tests.factories import UserFactory
from tasks import services
from tasks.models import Membership
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def members_url(project) -> str:
    return f"/api/projects/{project.pk}/members/"


def member_url(project, member) -> str:
    return f"/api/projects/{project.pk}/members/{member.pk}/"


def role_of(project, member) -> str | None:
    return Membership.objects.filter(project=project, user=member).values_list("role", flat=True).first()


# --- List -----------------------------------------------------------------------------------------


def test_list_members_shows_each_member_with_username_and_role(client, user, project, add_member):
    admin = add_member("admin")
    viewer = add_member("viewer")

    response = client.get(members_url(project))

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [(item["user"], item["username"], item["role"]) for item in body["results"]] == [
        (user.pk, user.username, "owner"),
        (admin.pk, admin.username, "admin"),
        (viewer.pk, viewer.username, "viewer"),
    ]
    assert set(body["results"][0]) == {"user", "username", "role", "joined_at"}
    assert body["results"][0]["joined_at"].endswith("Z")


def test_viewer_can_list_members(client_for, project, add_member):
    response = client_for(add_member("viewer")).get(members_url(project))

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_list_members_is_paginated(client, project, add_member):
    for _ in range(3):
        add_member("viewer")

    first = client.get(members_url(project), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert len(second["results"]) == 2
    assert second["next"] is None
    assert second["previous"] is not None
    all_users = [item["user"] for item in first["results"] + second["results"]]
    assert len(set(all_users)) == 4


def test_list_members_of_foreign_project_is_404(client_for, project):
    response = client_for(UserFactory()).get(members_url(project))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_list_members_unauthenticated_is_401(api_client, project):
    response = api_client.get(members_url(project))

    assert response.status_code == 401


# --- Add ------------------------------------------------------------------------------------------


def test_add_member_by_user_id(client, project):
    newcomer = UserFactory()

    response = client.post(members_url(project), {"user": newcomer.pk, "role": "member"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "username", "role", "joined_at"}
    assert (body["user"], body["username"], body["role"]) == (newcomer.pk, newcomer.username, "member")
    assert role_of(project, newcomer) == "member"


def test_add_member_by_username(client, project):
    newcomer = UserFactory()

    response = client.post(members_url(project), {"user": newcomer.username, "role": "viewer"})

    assert response.status_code == 201
    assert response.json()["user"] == newcomer.pk
    assert role_of(project, newcomer) == "viewer"


def test_add_member_by_user_id_as_string(client, project):
    newcomer = UserFactory()

    response = client.post(members_url(project), {"user": str(newcomer.pk)})

    assert response.status_code == 201
    assert response.json()["user"] == newcomer.pk


@pytest.mark.parametrize("reference", [True, 1.0, ["user1"], {"id": 1}])
def test_add_member_with_a_user_neither_id_nor_username_is_400(client, project, reference):
    response = client.post(members_url(project), {"user": reference})

    assert response.status_code == 400
    assert response.json() == {"user": ["Enter a user id or a username."]}


def test_add_member_without_role_makes_a_member(client, project):
    newcomer = UserFactory()

    response = client.post(members_url(project), {"user": newcomer.pk})

    assert response.status_code == 201
    assert response.json()["role"] == "member"


def test_added_member_sees_the_project(client, client_for, project):
    newcomer = UserFactory()
    client.post(members_url(project), {"user": newcomer.pk, "role": "viewer"})

    response = client_for(newcomer).get(f"/api/projects/{project.pk}/")

    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


@pytest.mark.parametrize("reference", ["nobody-by-this-name", 999999999, 99999999999999999999999])
def test_add_unknown_user_is_400_on_user(client, project, reference):
    response = client.post(members_url(project), {"user": reference, "role": "member"})

    assert response.status_code == 400
    assert "user" in response.json()
    assert Membership.objects.filter(project=project).count() == 1


def test_add_inactive_user_is_400_on_user(client, project):
    inactive = UserFactory(is_active=False)

    response = client.post(members_url(project), {"user": inactive.pk})

    assert response.status_code == 400
    assert "user" in response.json()


def test_add_existing_member_is_400(client, project, add_member):
    viewer = add_member("viewer")

    response = client.post(members_url(project), {"user": viewer.pk, "role": "admin"})

    assert response.status_code == 400
    assert "user" in response.json()
    assert role_of(project, viewer) == "viewer"


def test_add_the_owner_again_is_400(client, user, project):
    response = client.post(members_url(project), {"user": user.pk, "role": "member"})

    assert response.status_code == 400
    assert role_of(project, user) == "owner"


@pytest.mark.parametrize("adder_role", ["owner", "admin"])
def test_add_second_owner_is_400(client_for, user, project, add_member, adder_role):
    adder = user if adder_role == "owner" else add_member("admin")
    newcomer = UserFactory()

    response = client_for(adder).post(members_url(project), {"user": newcomer.pk, "role": "owner"})

    assert response.status_code == 400
    assert "role" in response.json()
    assert role_of(project, newcomer) is None


def test_add_member_with_unknown_role_is_400(client, project):
    response = client.post(members_url(project), {"user": UserFactory().pk, "role": "superuser"})

    assert response.status_code == 400
    assert "role" in response.json()


def test_add_member_without_user_is_400(client, project):
    response = client.post(members_url(project), {"role": "member"})

    assert response.status_code == 400
    assert "user" in response.json()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_admin_can_add_members_and_viewers(client_for, project, add_member, role):
    newcomer = UserFactory()

    response = client_for(add_member("admin")).post(members_url(project), {"user": newcomer.pk, "role": role})

    assert response.status_code == 201
    assert role_of(project, newcomer) == role


def test_admin_cannot_add_an_admin(client_for, project, add_member):
    newcomer = UserFactory()

    response = client_for(add_member("admin")).post(members_url(project), {"user": newcomer.pk, "role": "admin"})

    assert response.status_code == 403
    assert role_of(project, newcomer) is None


def test_owner_can_add_an_admin(client, project):
    newcomer = UserFactory()

    response = client.post(members_url(project), {"user": newcomer.pk, "role": "admin"})

    assert response.status_code == 201
    assert role_of(project, newcomer) == "admin"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_member_and_viewer_cannot_add_members(client_for, project, add_member, role):
    newcomer = UserFactory()

    response = client_for(add_member(role)).post(members_url(project), {"user": newcomer.pk, "role": "viewer"})

    assert response.status_code == 403
    assert role_of(project, newcomer) is None


def test_add_member_to_foreign_project_is_404(client_for, project):
    stranger = UserFactory()

    response = client_for(stranger).post(members_url(project), {"user": stranger.pk, "role": "admin"})

    assert response.status_code == 404
    assert role_of(project, stranger) is None


# --- Change role ----------------------------------------------------------------------------------


def test_owner_can_promote_member_to_admin(client, project, add_member):
    member = add_member("member")

    response = client.patch(member_url(project, member), {"role": "admin"})

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert response.json()["user"] == member.pk
    assert role_of(project, member) == "admin"


def test_owner_can_demote_admin(client, project, add_member):
    admin = add_member("admin")

    response = client.patch(member_url(project, admin), {"role": "viewer"})

    assert response.status_code == 200
    assert role_of(project, admin) == "viewer"


@pytest.mark.parametrize(("before", "after"), [("member", "viewer"), ("viewer", "member")])
def test_admin_can_change_members_and_viewers(client_for, project, add_member, before, after):
    target = add_member(before)

    response = client_for(add_member("admin")).patch(member_url(project, target), {"role": after})

    assert response.status_code == 200
    assert role_of(project, target) == after


def test_admin_cannot_promote_to_admin(client_for, project, add_member):
    member = add_member("member")

    response = client_for(add_member("admin")).patch(member_url(project, member), {"role": "admin"})

    assert response.status_code == 403
    assert role_of(project, member) == "member"


def test_admin_cannot_change_another_admin(client_for, project, add_member):
    other_admin = add_member("admin")

    response = client_for(add_member("admin")).patch(member_url(project, other_admin), {"role": "member"})

    assert response.status_code == 403
    assert role_of(project, other_admin) == "admin"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_member_and_viewer_cannot_change_roles(client_for, project, add_member, role):
    target = add_member("viewer")

    response = client_for(add_member(role)).patch(member_url(project, target), {"role": "member"})

    assert response.status_code == 403
    assert role_of(project, target) == "viewer"


def test_viewer_cannot_promote_themselves(client_for, project, add_member):
    viewer = add_member("viewer")

    response = client_for(viewer).patch(member_url(project, viewer), {"role": "member"})

    assert response.status_code == 403
    assert role_of(project, viewer) == "viewer"


@pytest.mark.parametrize("changer_role", ["owner", "admin"])
def test_changing_the_owners_role_is_400(client_for, user, project, add_member, changer_role):
    changer = user if changer_role == "owner" else add_member("admin")

    response = client_for(changer).patch(member_url(project, user), {"role": "admin"})

    assert response.status_code == 400
    assert "role" in response.json()
    assert role_of(project, user) == "owner"


def test_making_someone_owner_is_400(client, project, add_member):
    admin = add_member("admin")

    response = client.patch(member_url(project, admin), {"role": "owner"})

    assert response.status_code == 400
    assert "role" in response.json()
    assert role_of(project, admin) == "admin"


def test_change_role_to_unknown_role_is_400(client, project, add_member):
    member = add_member("member")

    response = client.patch(member_url(project, member), {"role": "boss"})

    assert response.status_code == 400
    assert "role" in response.json()


# A PATCH names the fields it changes: one without `role` (the schema calls it optional) changes
# nothing, and answers as the member is.
@pytest.mark.parametrize("target_role", ["member", "owner"])
def test_patch_without_role_changes_nothing(client, user, project, add_member, target_role):
    target = user if target_role == "owner" else add_member("member")
    event_seq = project.events.count()

    response = client.patch(member_url(project, target), {})

    assert response.status_code == 200
    assert (response.json()["user"], response.json()["role"]) == (target.pk, target_role)
    assert role_of(project, target) == target_role
    assert project.events.count() == event_seq


def test_patch_without_role_by_a_viewer_is_403(client_for, project, add_member):
    viewer = add_member("viewer")

    response = client_for(viewer).patch(member_url(project, add_member("member")), {})

    assert response.status_code == 403


def test_change_role_of_non_member_is_404(client, project):
    response = client.patch(member_url(project, UserFactory()), {"role": "viewer"})

    assert response.status_code == 404


def test_change_role_in_foreign_project_is_404(client_for, project, add_member):
    member = add_member("member")

    response = client_for(UserFactory()).patch(member_url(project, member), {"role": "viewer"})

    assert response.status_code == 404
    assert role_of(project, member) == "member"


# --- Remove ---------------------------------------------------------------------------------------


def test_owner_can_remove_an_admin(client, project, add_member):
    admin = add_member("admin")

    response = client.delete(member_url(project, admin))

    assert response.status_code == 204
    assert role_of(project, admin) is None


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_admin_can_remove_members_and_viewers(client_for, project, add_member, role):
    target = add_member(role)

    response = client_for(add_member("admin")).delete(member_url(project, target))

    assert response.status_code == 204
    assert role_of(project, target) is None


def test_admin_cannot_remove_another_admin(client_for, project, add_member):
    other_admin = add_member("admin")

    response = client_for(add_member("admin")).delete(member_url(project, other_admin))

    assert response.status_code == 403
    assert role_of(project, other_admin) == "admin"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_member_and_viewer_cannot_remove_others(client_for, project, add_member, role):
    target = add_member("viewer")

    response = client_for(add_member(role)).delete(member_url(project, target))

    assert response.status_code == 403
    assert role_of(project, target) == "viewer"


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_anyone_but_the_owner_can_leave(client_for, project, add_member, role):
    leaver = add_member(role)

    response = client_for(leaver).delete(member_url(project, leaver))

    assert response.status_code == 204
    assert role_of(project, leaver) is None


def test_member_who_left_no_longer_sees_the_project(client_for, project, add_member):
    leaver = add_member("member")
    leaver_client = client_for(leaver)
    leaver_client.delete(member_url(project, leaver))

    response = leaver_client.get(f"/api/projects/{project.pk}/")

    assert response.status_code == 404


@pytest.mark.parametrize("remover_role", ["owner", "admin"])
def test_owner_cannot_be_removed(client_for, user, project, add_member, remover_role):
    remover = user if remover_role == "owner" else add_member("admin")

    response = client_for(remover).delete(member_url(project, user))

    assert response.status_code == 400
    assert "detail" in response.json()
    assert role_of(project, user) == "owner"


def test_removing_a_member_unassigns_their_tasks_in_that_project(client, project, add_member):
    leaver = add_member("member")
    stayer = add_member("member")
    theirs = make_task(project=project, title="Theirs", assignee=leaver.pk)
    others = make_task(project=project, title="Someone else's", assignee=stayer.pk)

    response = client.delete(member_url(project, leaver))

    assert response.status_code == 204
    theirs.refresh_from_db()
    others.refresh_from_db()
    assert theirs.assignee_id is None
    assert theirs.version == 2
    assert others.assignee_id == stayer.pk


def test_removing_a_member_keeps_their_tasks_in_other_projects(client, user, project, add_member):
    leaver = add_member("member")
    other_project = services.project_create(actor=user, name="Other")
    services.member_add(project=other_project, actor=user, user=leaver.pk, role="member", operator=True)
    elsewhere = make_task(project=other_project, assignee=leaver.pk)

    client.delete(member_url(project, leaver))

    elsewhere.refresh_from_db()
    assert elsewhere.assignee_id == leaver.pk


def test_removed_member_shows_as_unassigned_in_the_task_list(client, project, add_member):
    leaver = add_member("member")
    make_task(project=project, assignee=leaver.pk)
    client.delete(member_url(project, leaver))

    response = client.get("/api/tasks/", {"project": project.pk})

    assert [task["assignee"] for task in response.json()["results"]] == [None]


def test_remove_non_member_is_404(client, project):
    response = client.delete(member_url(project, UserFactory()))

    assert response.status_code == 404


def test_remove_from_foreign_project_is_404(client_for, project, add_member):
    member = add_member("member")

    response = client_for(UserFactory()).delete(member_url(project, member))

    assert response.status_code == 404
    assert role_of(project, member) == "member"


def test_remove_unauthenticated_is_401(api_client, project, add_member):
    member = add_member("member")

    response = api_client.delete(member_url(project, member))

    assert response.status_code == 401
    assert role_of(project, member) == "member"


# --- Malformed ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", ["abc", "-1", "99999999999999999999999"])
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_malformed_user_id_is_json_404(client, project, method, user_id):
    response = getattr(client, method)(f"/api/projects/{project.pk}/members/{user_id}/", {"role": "viewer"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_largest_allowed_user_id_is_404_for_no_such_member(client, project):
    response = client.delete(f"/api/projects/{project.pk}/members/999999999999999999/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("project_id", ["abc", "99999999999999999999999"])
def test_malformed_project_id_in_members_path_is_json_404(client, project_id):
    response = client.get(f"/api/projects/{project_id}/members/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_members_unaffected_by_another_projects_changes(client, user, project):
    other = services.project_create(actor=user, name="Other")
    services.member_add(project=other, actor=user, user=UserFactory().pk, role="viewer", operator=True)

    response = client.get(members_url(project))

    assert [item["user"] for item in response.json()["results"]] == [user.pk]
