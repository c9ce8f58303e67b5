"""Subtasks and checklists: a task's `parent` and `checklist`, through `/api/tasks/`.

A parent is another task of the same project, one level deep; the list filters by it; deleting a
parent deletes its subtasks first, one `task.deleted` each. A checklist is written whole with its
task (one version, one `task.updated`), its items keep their ids and new ones never get a removed
one's. Bad input is a 400 on the field that changes nothing; two writers each making the other's
task its subtask cannot both win (MySQL).
"""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Max

from realtime.models import Event
from realtime.tests.servers import wait_until
from tasks import services
from tasks.models import Project, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def seq_of(project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


def events_since(client, project, seq: int) -> list[dict]:
    response = client.get(f"/api/projects/{project.pk}/events/", {"since": seq})
    assert response.status_code == 200, response.content
    return response.json()["events"]


def row(task_id: int) -> dict:
    """What is stored of a task: everything but the time of its last write."""
    return Task.objects.filter(pk=task_id).values("parent_id", "checklist", "checklist_last_id", "version", "title")[0]


def patch(client, task, body: dict, **headers):
    return client.patch(f"/api/tasks/{task.pk}/", body, format="json", **headers)


def listed(client, project, **params) -> list[int]:
    response = client.get("/api/tasks/", {"project": project.pk, **params})
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["results"]]


@pytest.fixture
def parent(project):
    return make_task(project=project, title="Parent")


# --- Parent ----------------------------------------------------------------------------------------


def test_create_a_subtask(client, project, parent):
    response = client.post("/api/tasks/", {"project": project.pk, "title": "Sub", "parent": parent.pk}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["parent"] == parent.pk
    assert Task.objects.get(pk=response.json()["id"]).parent_id == parent.pk
    assert client.get(f"/api/tasks/{parent.pk}/").json()["parent"] is None


def test_the_list_filters_by_parent(client, project, parent):
    first = make_task(project=project, title="Sub 1", parent=parent.pk)
    second = make_task(project=project, title="Sub 2", parent=parent.pk)
    loose = make_task(project=project, title="Loose")
    other_parent = make_task(project=project, title="Other parent")
    make_task(project=project, title="Other sub", parent=other_parent.pk)

    assert listed(client, project, parent=parent.pk) == [first.pk, second.pk]
    assert listed(client, project, parent="none") == [parent.pk, loose.pk, other_parent.pk]


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "\u0661"])
def test_the_parent_filter_takes_an_id_or_none_only(client, project, value):
    response = client.get("/api/tasks/", {"project": project.pk, "parent": value})

    assert response.status_code == 400
    assert list(response.json()) == ["parent"]


def test_a_subtask_is_made_top_level_and_back(client, project, parent):
    sub = make_task(project=project, title="Sub", parent=parent.pk)

    response = patch(client, sub, {"parent": None})
    assert response.status_code == 200, response.content
    assert (response.json()["parent"], response.json()["version"]) == (None, 2)
    assert row(sub.pk)["parent_id"] is None

    response = patch(client, sub, {"parent": parent.pk})
    assert response.status_code == 200, response.content
    assert (response.json()["parent"], response.json()["version"]) == (parent.pk, 3)
    assert row(sub.pk)["parent_id"] == parent.pk


# --- Parent: bad input -----------------------------------------------------------------------------


def _in_another_project(user, project, task):
    return make_task(project=services.project_create(actor=user, name="Mine too"), title="Elsewhere").pk


def _nonexistent(user, project, task):
    return (Task.objects.aggregate(last=Max("pk"))["last"] or 0) + 1000


def _a_subtask(user, project, task):
    return make_task(project=project, title="Sub", parent=make_task(project=project, title="Top").pk).pk


def _itself(user, project, task):
    return task.pk


BAD_PARENTS = {
    "a task of another project of the caller's": _in_another_project,
    "a task that does not exist": _nonexistent,
    "a subtask": _a_subtask,
    "the task itself": _itself,
}


@pytest.mark.parametrize("bad_parent", BAD_PARENTS.values(), ids=BAD_PARENTS.keys())
def test_a_bad_parent_is_a_400_on_parent_that_changes_nothing(client, user, project, parent, bad_parent):
    parent_id = bad_parent(user, project, parent)
    before, seq = row(parent.pk), seq_of(project)

    response = patch(client, parent, {"parent": parent_id, "title": "Renamed"})

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["parent"]
    assert all(isinstance(message, str) for message in response.json()["parent"])
    assert row(parent.pk) == before
    assert seq_of(project) == seq


@pytest.mark.parametrize(
    "bad_parent",
    [_in_another_project, _nonexistent, _a_subtask],
    ids=["a task of another project of the caller's", "a task that does not exist", "a subtask"],
)
def test_creating_under_a_bad_parent_is_a_400_on_parent_that_creates_nothing(client, user, project, bad_parent):
    parent_id = bad_parent(user, project, None)
    tasks, seq = Task.objects.count(), seq_of(project)

    response = client.post("/api/tasks/", {"project": project.pk, "title": "Sub", "parent": parent_id}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["parent"]
    assert Task.objects.count() == tasks
    assert seq_of(project) == seq


def test_a_task_with_subtasks_cannot_get_a_parent(client, project, parent):
    make_task(project=project, title="Sub", parent=parent.pk)
    new_parent = make_task(project=project, title="Would-be parent")
    before, seq = row(parent.pk), seq_of(project)

    response = patch(client, parent, {"parent": new_parent.pk})

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["parent"]
    assert row(parent.pk) == before
    assert seq_of(project) == seq


# --- Checklist -------------------------------------------------------------------------------------


def test_new_checklist_items_are_numbered_from_1_and_not_done(client, project, parent):
    response = patch(client, parent, {"checklist": [{"text": "One"}, {"text": "Two"}, {"text": "Three", "done": True}]})

    assert response.status_code == 200, response.content
    assert response.json()["checklist"] == [
        {"id": 1, "text": "One", "done": False},
        {"id": 2, "text": "Two", "done": False},
        {"id": 3, "text": "Three", "done": True},
    ]
    assert row(parent.pk)["checklist"] == response.json()["checklist"]


def test_items_keep_their_ids_and_a_removed_id_is_never_given_again(client, project, parent):
    patch(client, parent, {"checklist": [{"text": "One"}, {"text": "Two"}, {"text": "Three"}]})
    seq, version = seq_of(project), row(parent.pk)["version"]

    # Item 2 changed, item 1 dropped, item 3 kept as it is, a new one.
    response = patch(
        client,
        parent,
        {"checklist": [{"id": 2, "text": "Two, edited", "done": True}, {"id": 3, "text": "Three"}, {"text": "Four"}]},
    )

    assert response.status_code == 200, response.content
    assert response.json()["checklist"] == [
        {"id": 2, "text": "Two, edited", "done": True},
        {"id": 3, "text": "Three", "done": False},
        {"id": 4, "text": "Four", "done": False},
    ]
    assert response.json()["version"] == version + 1
    [event] = events_since(client, project, seq)
    assert (event["type"], event["data"]) == ("task.updated", response.json())

    # Item 4, the highest so far, dropped: the next new item is 5, not 4 again.
    seq = seq_of(project)
    response = patch(client, parent, {"checklist": [{"id": 2, "text": "Two, edited", "done": True}, {"text": "Five"}]})

    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["checklist"]] == [2, 5]
    assert response.json()["version"] == version + 2
    assert [event["type"] for event in events_since(client, project, seq)] == ["task.updated"]
    assert row(parent.pk)["checklist"] == response.json()["checklist"]


def test_removing_every_item_and_adding_one_continues_the_numbering(client, project, parent):
    patch(client, parent, {"checklist": [{"text": "One"}, {"text": "Two"}]})
    assert patch(client, parent, {"checklist": []}).json()["checklist"] == []

    response = patch(client, parent, {"checklist": [{"text": "Again"}]})

    assert response.json()["checklist"] == [{"id": 3, "text": "Again", "done": False}]


def test_a_checklist_given_at_creation_is_numbered(client, project):
    response = client.post(
        "/api/tasks/",
        {"project": project.pk, "title": "Listed", "checklist": [{"text": "A"}, {"text": "B"}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["checklist"] == [
        {"id": 1, "text": "A", "done": False},
        {"id": 2, "text": "B", "done": False},
    ]
    task = Task.objects.get(pk=response.json()["id"])
    assert patch(client, task, {"checklist": [{"text": "C"}]}).json()["checklist"] == [
        {"id": 3, "text": "C", "done": False}
    ]


def test_a_checklist_text_of_500_characters_is_taken(client, project, parent):
    response = patch(client, parent, {"checklist": [{"text": "x" * 500}]})

    assert response.status_code == 200, response.content
    assert response.json()["checklist"] == [{"id": 1, "text": "x" * 500, "done": False}]


def test_a_checklist_of_100_items_is_taken(client, project, parent):
    response = patch(client, parent, {"checklist": [{"text": f"Item {index}"} for index in range(100)]})

    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["checklist"]] == list(range(1, 101))


BAD_CHECKLISTS = {
    "101 items": [{"text": f"Item {index}"} for index in range(101)],
    "empty text": [{"id": 1, "text": "Kept"}, {"text": ""}],
    "text of 501 characters": [{"text": "x" * 501}],
    "text missing": [{"done": True}],
    "text not a string": [{"text": 7}],
    "an unknown id": [{"id": 1, "text": "Kept"}, {"id": 9, "text": "Who?"}],
    "an id given twice": [{"id": 1, "text": "Kept"}, {"id": 1, "text": "Again"}],
    "an id of 0": [{"id": 0, "text": "Kept"}],
    "an id that is not an integer": [{"id": 1.5, "text": "Kept"}],
    "done as yes": [{"id": 1, "text": "Kept", "done": "yes"}],
    "done as 1": [{"id": 1, "text": "Kept", "done": 1}],
    "an item that is not an object": [{"id": 1, "text": "Kept"}, "Buy milk"],
    "a checklist that is not a list": {"id": 1, "text": "Kept"},
    "a checklist that is a string": "Buy milk",
    "null": None,
}


@pytest.mark.parametrize("checklist", BAD_CHECKLISTS.values(), ids=BAD_CHECKLISTS.keys())
def test_a_bad_checklist_is_a_400_with_messages_that_changes_nothing(client, project, parent, checklist):
    patch(client, parent, {"checklist": [{"text": "Kept"}]})
    before, seq = row(parent.pk), seq_of(project)

    response = patch(client, parent, {"checklist": checklist, "title": "Renamed"})

    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == ["checklist"]
    assert isinstance(body["checklist"], list) and body["checklist"]
    assert all(isinstance(message, str) for message in body["checklist"]), body
    assert row(parent.pk) == before
    assert seq_of(project) == seq


# --- Deleting a parent -----------------------------------------------------------------------------


def test_deleting_a_parent_deletes_its_subtasks_first_one_event_each(client, project, parent):
    first = make_task(project=project, title="Sub 1", parent=parent.pk)
    second = make_task(project=project, title="Sub 2", parent=parent.pk)
    loose = make_task(project=project, title="Loose")
    seq = seq_of(project)

    response = client.delete(f"/api/tasks/{parent.pk}/")

    assert response.status_code == 204, response.content
    events = events_since(client, project, seq)
    assert [(event["seq"], event["type"], event["data"]["id"]) for event in events] == [
        (seq + 1, "task.deleted", first.pk),
        (seq + 2, "task.deleted", second.pk),
        (seq + 3, "task.deleted", parent.pk),
    ]
    assert list(Task.objects.filter(project=project).values_list("pk", flat=True)) == [loose.pk]


def test_deleting_a_parent_with_a_stale_if_match_is_a_412_that_deletes_nothing(client, project, parent):
    subtasks = [make_task(project=project, title=f"Sub {index}", parent=parent.pk) for index in range(2)]
    patch(client, parent, {"title": "Moved on"})
    seq = seq_of(project)

    response = client.delete(f"/api/tasks/{parent.pk}/", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412, response.content
    assert response.json()["version"] == 2
    assert Task.objects.filter(pk__in=[parent.pk, *(sub.pk for sub in subtasks)]).count() == 3
    assert seq_of(project) == seq


def test_deleting_a_subtask_leaves_its_parent(client, project, parent):
    sub = make_task(project=project, title="Sub", parent=parent.pk)

    assert client.delete(f"/api/tasks/{sub.pk}/").status_code == 204

    assert Task.objects.filter(pk=parent.pk).exists()
    assert listed(client, project, parent=parent.pk) == []


# --- Two writers, each making the other's task its subtask (MySQL) -------------------------------


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("writers waiting on each other's row locks need MySQL; this runs in the MySQL + Redis pass")


@pytest.mark.django_db(transaction=True)
def test_two_tasks_made_each_others_parent_at_once_one_wins(on_mysql, client_for, user, project):
    first = make_task(project=project, title="A")
    second = make_task(project=project, title="B")
    clients = [client_for(user), client_for(user)]
    sessions, responses = {}, {}

    def request(index: int, task: Task, parent: Task) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                sessions[index] = cursor.fetchone()[0]
            responses[index] = patch(clients[index], task, {"parent": parent.pk})
        finally:
            connection.close()

    writers = [
        threading.Thread(target=request, args=(0, second, first)),
        threading.Thread(target=request, args=(1, first, second)),
    ]
    # Both requests read both tasks as they are (top-level) and then queue for the rows' locks,
    # held here until both are waiting: each then decides with the other's change either applied or not.
    with transaction.atomic():
        list(Task.objects.filter(pk__in=[first.pk, second.pk]).select_for_update())
        for writer in writers:
            writer.start()
        wait_until(lambda: _both_wait_on_row_locks(sessions), timeout=10, what="both requests waiting on the rows")
    for writer in writers:
        writer.join(timeout=15)

    statuses = sorted(response.status_code for response in responses.values())
    assert statuses == [200, 400], [response.content for response in responses.values()]
    [refused] = [response for response in responses.values() if response.status_code == 400]
    assert list(refused.json()) == ["parent"]
    parents = {task.pk: task.parent_id for task in Task.objects.filter(pk__in=[first.pk, second.pk])}
    assert parents in ({first.pk: None, second.pk: first.pk}, {first.pk: second.pk, second.pk: None})
    types = list(Event.objects.filter(project=project).order_by("seq").values_list("type", flat=True))
    assert types == ["member.added", "task.created", "task.created", "task.updated"]


def _both_wait_on_row_locks(sessions: dict[int, int]) -> bool:
    """Whether both requests' sessions run a statement that takes row locks: the test holds the
    rows, so they are waiting for it to commit."""
    if len(sessions) < 2:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID IN (%s, %s)", [sessions[0], sessions[1]]
        )
        statements = [row[0] or "" for row in cursor.fetchall()]
    return len(statements) == 2 and all(
        statement.startswith("UPDATE") or statement.endswith("FOR UPDATE") for statement in statements
    )


def test_checklist_errors_say_which_item_and_field(client, project, parent):
    response = patch(client, parent, {"checklist": [{"text": "Fine"}, {"done": True}, {"text": "", "done": "yes"}]})

    assert response.status_code == 400, response.content
    assert response.json() == {
        "checklist": [
            "Item 2: text: This field is required.",
            "Item 3: text: This field may not be blank.",
            "Item 3: done: Must be a valid boolean.",
        ]
    }
