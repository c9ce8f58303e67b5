"""Field-level merge: PATCH `/api/tasks/{id}/` with a stale `If-Match` and `Prefer: merge`.

The change goes on top of the current task unless a field it sends was changed after its version,
whoever changed it and however (another PATCH, a bulk update, a member's removal, an account's
deletion); then 412 names those fields, with the current task, and nothing changes. Without the
preference a stale `If-Match` stays the plain 412. Two merges racing on the same base cannot both
pass on one field (MySQL, with the race made to happen).
"""

import threading

import pytest
from django.db import connection, transaction

from accounts import services as account_services
from realtime.models import Activity, Event
from realtime.tests.servers import wait_until
from tasks import services
from tasks.models import Membership, Priority, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def url(task) -> str:
    return f"/api/tasks/{task.pk}/"


def patch(client, task, body: dict, *, version: int | str, prefer: str | None = "merge"):
    """PATCH `body` based on `version` (a number, or an If-Match header's text), with `Prefer`."""
    headers = {"HTTP_IF_MATCH": f'"{version}"' if isinstance(version, int) else version}
    if prefer is not None:
        headers["HTTP_PREFER"] = prefer
    return client.patch(url(task), body, format="json", **headers)


def row(task) -> dict:
    """What is stored of a task, for what these tests change."""
    return Task.objects.filter(pk=task.pk).values("title", "status", "priority", "labels", "assignee_id", "version")[0]


def updates_of(task) -> list[tuple[int, int, dict]]:
    """(actor, version, changes) of each `task.updated` of the task: its events, with the history."""
    events = Event.objects.filter(type="task.updated", data__id=task.pk).order_by("seq")
    history = Activity.objects.filter(task_id=task.pk, kind="task.updated").order_by("id")
    assert len(events) == len(history)
    return [
        (event.actor_id, event.data["version"], entry.changes) for event, entry in zip(events, history, strict=True)
    ]


@pytest.fixture
def task(project):
    return make_task(project=project, title="Draft", description="First words", labels=["docs"])


@pytest.fixture
def alice(add_member):
    return add_member("member")


@pytest.fixture
def bob(add_member):
    return add_member("member")


@pytest.fixture
def first(client_for, alice):
    return client_for(alice)


@pytest.fixture
def second(client_for, bob):
    return client_for(bob)


# --- Merged ---------------------------------------------------------------------------------------


def test_a_merge_of_another_field_goes_on_top_of_the_current_task(first, second, task, alice, bob):
    assert patch(first, task, {"title": "Final"}, version=1, prefer=None).status_code == 200

    response = patch(second, task, {"status": "in_progress"}, version=1)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["status"], body["version"]) == ("Final", "in_progress", 3)
    assert response["ETag"] == '"3"'
    assert response["Preference-Applied"] == "merge"
    stored = row(task)
    assert (stored["title"], stored["status"], stored["version"]) == ("Final", "in_progress", 3)
    # One event each; the merged one carries both changes, its history entry only its own.
    assert updates_of(task) == [
        (alice.pk, 2, {"title": ["Draft", "Final"]}),
        (bob.pk, 3, {"status": ["todo", "in_progress"]}),
    ]
    assert Event.objects.get(type="task.updated", data__version=3).data == body


def test_a_merge_of_a_field_changed_since_is_a_412_naming_it(first, second, task, alice):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, {"title": "Mine", "status": "done"}, version=1)

    assert response.status_code == 412, response.content
    body = response.json()
    assert set(body) == {"detail", "conflicts", "current"}
    assert body["conflicts"] == ["title"]
    assert body["current"] == first.get(url(task)).json()
    assert (body["current"]["title"], body["current"]["version"]) == ("Final", 2)
    assert response["ETag"] == '"2"'
    assert "Preference-Applied" not in response
    assert row(task)["title"] == "Final"
    assert (row(task)["status"], row(task)["version"]) == ("todo", 2)
    assert [version for _, version, _ in updates_of(task)] == [2]


def test_conflicts_are_exactly_the_fields_sent_that_changed_after_the_version(project, second, task):
    owner = project.owner
    services.task_update(task=task, actor=owner, data={"title": "Two", "priority": Priority.HIGH}, operator=True)  # v2
    task.refresh_from_db()
    services.task_update(task=task, actor=owner, data={"labels": ["docs", "ops"]}, operator=True)  # v3
    body = {"title": "Mine", "labels": ["mine"], "status": "done", "description": "Mine too"}

    from_one = patch(second, task, body, version=1)
    from_two = patch(second, task, body, version=2)

    assert from_one.status_code == from_two.status_code == 412
    assert from_one.json()["conflicts"] == ["labels", "title"]
    # Version 2 made the title what it is: only what changed after it conflicts.
    assert from_two.json()["conflicts"] == ["labels"]
    assert row(task)["version"] == 3


def test_a_field_changed_and_changed_back_still_conflicts(first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)
    patch(first, task, {"title": "Draft"}, version=2, prefer=None)

    response = patch(second, task, {"title": "Mine"}, version=1)

    assert response.status_code == 412
    assert response.json()["conflicts"] == ["title"]


def test_a_merge_that_sends_only_unchanged_fields_of_many_changes_applies(project, second, task):
    owner = project.owner
    services.task_update(task=task, actor=owner, data={"title": "Two", "priority": Priority.HIGH}, operator=True)
    task.refresh_from_db()
    services.task_update(task=task, actor=owner, data={"labels": ["docs", "ops"]}, operator=True)

    response = patch(second, task, {"status": "done", "description": "Mine"}, version=1)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["priority"], body["labels"]) == ("Two", "high", ["docs", "ops"])
    assert (body["status"], body["description"], body["version"]) == ("done", "Mine", 4)
    assert body["completed_at"] is not None


def test_without_prefer_merge_a_stale_if_match_is_the_plain_412(first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, {"status": "done"}, version=1, prefer=None)

    assert response.status_code == 412
    assert response.json() == first.get(url(task)).json()
    assert "Preference-Applied" not in response
    assert row(task)["status"] == "todo"


def test_a_put_ignores_prefer_merge(first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = second.put(
        url(task), {"title": "Final", "status": "done"}, format="json", HTTP_IF_MATCH='"1"', HTTP_PREFER="merge"
    )

    assert response.status_code == 412
    assert response.json()["version"] == 2
    assert row(task)["status"] == "todo"


# --- What counts as a change ----------------------------------------------------------------------

CHANGES = {
    "labels": ({"labels": ["ops"]}, {"labels": ["mine"]}),
    "checklist": ({"checklist": [{"text": "Write"}]}, {"checklist": [{"text": "Mine"}]}),
    "parent": ("parent", "parent"),
    "assignee": ("assignee", "assignee"),
    "due_at": ({"due_at": "2026-12-24T10:00:00Z"}, {"due_at": "2027-01-04T09:00:00Z"}),
}


def _change(name: str, body, project, member):
    """The change `CHANGES` names: a body, or one that needs a row of the project."""
    if body == "parent":
        return {"parent": make_task(project=project, title="Epic").pk}
    if body == "assignee":
        return {"assignee": member.pk}
    return body


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_of_any_field_conflicts_with_a_merge_of_it(name, project, first, second, task, alice):
    theirs, mine = (_change(name, body, project, alice) for body in CHANGES[name])
    assert patch(first, task, theirs, version=1, prefer=None).status_code == 200
    before = row(task)

    response = patch(second, task, mine, version=1)

    assert response.status_code == 412, response.content
    assert response.json()["conflicts"] == [name]
    assert row(task) == before


@pytest.mark.parametrize("name", CHANGES)
def test_a_merge_of_any_field_goes_on_top_of_a_change_of_another(name, project, first, second, task, alice):
    _, mine = (_change(name, body, project, alice) for body in CHANGES[name])
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, mine, version=1)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["version"]) == ("Final", 3)
    stored = {key: value for key, value in body.items() if key in mine}
    if name == "checklist":
        assert [item["text"] for item in body["checklist"]] == ["Mine"]
    else:
        assert stored == mine


def test_a_bulk_update_counts_as_a_change_of_its_fields(project, second, task):
    services.task_bulk_update(tasks=[task], actor=project.owner, changes={"status": "done"}, operator=True)

    conflicting = patch(second, task, {"status": "cancelled"}, version=1)
    merged = patch(second, task, {"title": "Mine"}, version=1)

    assert (conflicting.status_code, conflicting.json()["conflicts"]) == (412, ["status"])
    assert merged.status_code == 200
    assert (merged.json()["status"], merged.json()["title"], merged.json()["version"]) == ("done", "Mine", 3)


def test_a_members_removal_counts_as_a_change_of_the_assignee(project, second, task, alice):
    services.task_update(task=task, actor=project.owner, data={"assignee": alice.pk}, operator=True)  # v2
    membership = Membership.objects.get(project=project, user=alice)
    services.member_remove(project=project, actor=project.owner, membership=membership, operator=True)  # v3

    response = patch(second, task, {"assignee": None}, version=2)

    assert response.status_code == 412
    assert response.json()["conflicts"] == ["assignee"]
    assert patch(second, task, {"priority": "low"}, version=2).status_code == 200


def test_an_account_deletion_counts_as_a_change_of_what_it_clears(project, client_for, add_member, second, task):
    leaving = add_member("member")
    mine = make_task(project=project, actor=leaving, title="Theirs", assignee=leaving.pk)

    account_services.user_delete(user=leaving, actor=leaving)

    mine.refresh_from_db()
    assert (mine.assignee_id, mine.created_by_id, mine.version) == (None, None, 3)
    conflicting = patch(second, mine, {"assignee": None}, version=1)
    merged = patch(second, mine, {"title": "Ours"}, version=1)
    assert (conflicting.status_code, conflicting.json()["conflicts"]) == (412, ["assignee"])
    assert (merged.status_code, merged.json()["version"]) == (200, 4)


# --- Versions it cannot merge on -----------------------------------------------------------------


def test_an_if_match_after_the_current_version_is_a_412_naming_every_field_sent(second, task):
    response = patch(second, task, {"title": "Mine", "status": "done"}, version=7)

    assert response.status_code == 412
    assert response.json()["conflicts"] == ["status", "title"]
    assert response.json()["current"]["version"] == 1
    assert row(task)["version"] == 1


@pytest.mark.parametrize("if_match", ["yesterday", '"abc"', '"0"', '"²"', '"99999999999"'])
def test_a_malformed_if_match_is_a_412_that_changes_nothing(if_match, second, task):
    response = patch(second, task, {"status": "done"}, version=if_match)

    assert response.status_code == 412
    assert response.json()["conflicts"] == ["status"]
    assert row(task)["version"] == 1


def test_a_merge_on_an_unknown_version_sending_no_field_is_still_a_412(second, task):
    response = patch(second, task, {"version": 9}, version=7)

    assert response.status_code == 412
    assert response.json()["conflicts"] == []


# --- Current versions, and the header --------------------------------------------------------------


def test_a_merge_on_the_current_version_is_a_plain_change(second, task, bob):
    response = patch(second, task, {"title": "Mine"}, version=1)

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["version"]) == ("Mine", 2)
    assert response["Preference-Applied"] == "merge"
    assert updates_of(task) == [(bob.pk, 2, {"title": ["Draft", "Mine"]})]


def test_a_merge_that_changes_nothing_keeps_the_version(first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, {"status": "todo"}, version=1)

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert len(updates_of(task)) == 1


@pytest.mark.parametrize("if_match", [None, "*"])
def test_without_a_version_to_merge_on_there_is_no_merge_to_apply(if_match, first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)
    headers = {"HTTP_PREFER": "merge"} | ({"HTTP_IF_MATCH": if_match} if if_match else {})

    response = second.patch(url(task), {"title": "Mine"}, format="json", **headers)

    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert "Preference-Applied" not in response


@pytest.mark.parametrize(
    "prefer",
    ["merge", "MERGE", " Merge ", "return=minimal, merge", "respond-async; wait=10, merge;x=1", 'foo="a,b", merge'],
)
def test_prefer_merge_is_found_among_other_preferences(prefer, first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, {"status": "done"}, version=1, prefer=prefer)

    assert response.status_code == 200, response.content
    assert response["Preference-Applied"] == "merge"


@pytest.mark.parametrize("prefer", ["merged", "return=merge", 'foo="x, merge, y"', "no-merge", ""])
def test_only_the_merge_preference_itself_merges(prefer, first, second, task):
    patch(first, task, {"title": "Final"}, version=1, prefer=None)

    response = patch(second, task, {"status": "done"}, version=1, prefer=prefer)

    assert response.status_code == 412
    assert response.json()["version"] == 2  # the plain 412: the current task


# --- Racing merges (MySQL) -------------------------------------------------------------------------


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("requests waiting on a row lock need MySQL; the other tests here merge one after the other")


RACES = {
    "other fields": ({"title": "Alice's"}, {"status": "done"}),
    "the same field": ({"title": "Alice's"}, {"title": "Bob's"}),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("race", RACES.values(), ids=RACES.keys())
def test_two_merges_on_the_same_base_race_as_if_one_after_the_other(on_mysql, race, project, client_for, add_member):
    """Both requests read version 1 and wait on the task's row (held by the test) before writing;
    once it is let go, one writes first and the other is decided on what that one wrote."""
    task = make_task(project=project, title="Draft")
    bodies = dict(zip(("alice", "bob"), race, strict=True))
    clients = {name: client_for(add_member("member")) for name in bodies}
    sessions, responses = [], {}

    def send(name: str) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                sessions.append(cursor.fetchone()[0])
            responses[name] = patch(clients[name], task, bodies[name], version=1)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(name,)) for name in bodies]
    with transaction.atomic():
        Task.objects.select_for_update().get(pk=task.pk)
        for thread in threads:
            thread.start()
        wait_until(lambda: _both_wait_to_write(sessions), timeout=10, what="both requests waiting on the row")
    for thread in threads:
        thread.join(timeout=15)

    statuses = sorted(response.status_code for response in responses.values())
    stored = row(task)
    if race == RACES["other fields"]:
        assert statuses == [200, 200]
        assert (stored["title"], stored["status"], stored["version"]) == ("Alice's", "done", 3)
    else:
        assert statuses == [200, 412]
        [refused] = [response for response in responses.values() if response.status_code == 412]
        assert refused.json()["conflicts"] == ["title"]
        assert refused.json()["current"]["title"] == stored["title"]
        assert stored["version"] == 2
    assert sorted(version for _, version, _ in updates_of(task)) == list(range(2, stored["version"] + 1))


def _both_wait_to_write(sessions: list[int]) -> bool:
    if len(sessions) < 2:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID IN (%s, %s)", [sessions[0], sessions[1]]
        )
        statements = [row[0] or "" for row in cursor.fetchall()]
    return len(statements) == 2 and all(statement.startswith("UPDATE") for statement in statements)
