"""`POST /api/batch/` against the contract: commands applied in order in one transaction.

What a client notices: the results and the temp ids' mapping; the rows, events (consecutive seqs
per project, in command order) and activity a batch leaves; that a failing command answers its
endpoint's status and error body and leaves nothing at all (rows, events, activity, seqs); the
limits and malformed commands; the events on a socket, once and only for a committed batch; who
may send one; what it costs per command; and, on MySQL, that batches naming tasks and projects
in opposite orders queue behind each other and other writers instead of deadlocking.
"""

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from accounts.models import TokenScope
from accounts.services import personal_token_create
from accounts.tests.factories import UserFactory
from comments.models import Comment
from realtime.models import Activity, Event
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from taskflow.tests.test_openapi import assert_documented, schema  # noqa: F401  (the fixture)
from tasks import services
from tasks.models import Project, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

BATCH = "/api/batch/"
IF_MATCH = 'Enter a version (an integer) or an ETag such as "3" (a string).'
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def post_batch(client, *commands, **headers):
    return client.post(BATCH, {"commands": list(commands)}, format="json", **headers)


def applied(client, *commands) -> dict:
    response = post_batch(client, *commands)
    assert response.status_code == 200, response.content
    return response.json()


def create(project, temp_id: str | None = None, **args) -> dict:
    command = {"op": "task.create", "args": {"project": project.pk, "title": "A task", **args}}
    if temp_id is not None:
        command["temp_id"] = temp_id
    return command


def update(task_id, if_match=None, **args) -> dict:
    command = {"op": "task.update", "id": task_id, "args": args}
    if if_match is not None:
        command["if_match"] = if_match
    return command


def delete(task_id) -> dict:
    return {"op": "task.delete", "id": task_id}


def comment(task_id, body: str = "Looks good") -> dict:
    return {"op": "comment.create", "args": {"task": task_id, "body": body}}


def seq_of(project: Project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


def events_after(project: Project, seq: int) -> list[tuple[int, str]]:
    return list(Event.objects.filter(project=project, seq__gt=seq).order_by("seq").values_list("seq", "type"))


def stored_state() -> tuple:
    """Everything a batch could leave behind, to compare before and after one that failed."""
    return (
        list(Task.objects.order_by("pk").values_list("pk", "title", "status", "parent_id", "version")),
        list(Comment.objects.order_by("pk").values_list("pk", "body")),
        list(Event.objects.order_by("pk").values_list("project_id", "seq", "type")),
        Activity.objects.count(),
        list(Project.objects.order_by("pk").values_list("pk", "event_seq")),
    )


@pytest.fixture
def task(project):
    return make_task(project=project, title="Existing")


# --- Applied, all of it ---------------------------------------------------------------------------


def test_create_update_and_comment_by_temp_id_apply_in_one_batch(client, user, project):
    before = seq_of(project)

    body = applied(
        client,
        create(project, "draft", title="Release notes"),
        update("draft", status="in_progress"),
        comment("draft", "Started offline."),
    )

    task = Task.objects.get(title="Release notes")
    assert body["temp_id_mapping"] == {"draft": task.pk}
    assert [result["status"] for result in body["results"]] == [201, 200, 201]
    assert (task.status, task.version, task.created_by_id) == ("in_progress", 2, user.pk)
    assert list(Comment.objects.filter(task=task).values_list("body", "author_id")) == [("Started offline.", user.pk)]
    assert events_after(project, before) == [
        (before + 1, "task.created"),
        (before + 2, "task.updated"),
        (before + 3, "comment.created"),
    ]
    activity = client.get(f"/api/projects/{project.pk}/activity/").json()["results"]
    assert [entry["kind"] for entry in activity[:3]] == ["comment.created", "task.updated", "task.created"]
    assert activity[1]["changes"] == {"status": ["todo", "in_progress"]}


def test_each_result_is_what_its_endpoint_answers(client, project):
    body = applied(client, create(project, "draft", title="Shown"), update("draft", priority="high"), comment("draft"))

    task_id = body["temp_id_mapping"]["draft"]
    created, updated, commented = (result["data"] for result in body["results"])
    assert updated == client.get(f"/api/tasks/{task_id}/").json()
    assert (created["version"], created["priority"], updated["version"]) == (1, "medium", 2)
    assert set(created) == set(updated)
    assert commented == client.get(f"/api/comments/{commented['id']}/").json()


def test_a_delete_of_a_task_created_earlier_in_the_batch(client, project):
    before = seq_of(project)

    body = applied(client, create(project, "short-lived"), delete("short-lived"))

    assert body["results"][1] == {"status": 204, "data": None}
    assert not Task.objects.filter(pk=body["temp_id_mapping"]["short-lived"]).exists()
    assert [kind for _, kind in events_after(project, before)] == ["task.created", "task.deleted"]


def test_a_parent_may_be_named_by_temp_id(client, project, task):
    body = applied(
        client,
        create(project, "parent", title="Parent"),
        create(project, "child", title="Child", parent="parent"),
        update(task.pk, parent="parent"),
    )

    mapping = body["temp_id_mapping"]
    assert Task.objects.get(pk=mapping["child"]).parent_id == mapping["parent"]
    assert Task.objects.get(pk=task.pk).parent_id == mapping["parent"]
    assert body["results"][1]["data"]["parent"] == mapping["parent"]


def test_existing_tasks_are_named_by_id_with_if_match_as_a_number_or_an_etag(client, project):
    tasks = [make_task(project=project, title=f"Task {index}") for index in range(4)]

    applied(
        client,
        update(tasks[0].pk, if_match=1, title="By number"),
        update(tasks[1].pk, if_match='"1"', title="By ETag"),
        update(tasks[2].pk, if_match='W/"1"', title="By weak ETag"),
        update(tasks[3].pk, if_match="*", title="Any version"),
    )

    assert list(Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk").values_list("title", "version")) == [
        ("By number", 2),
        ("By ETag", 2),
        ("By weak ETag", 2),
        ("Any version", 2),
    ]


def test_a_batch_over_two_projects_has_consecutive_seqs_in_each_in_command_order(client, user, project):
    other = services.project_create(actor=user, name="Other")
    task_here, task_there = make_task(project=project), make_task(project=other)
    here, there = seq_of(project), seq_of(other)

    applied(
        client,
        update(task_there.pk, title="There 1"),
        update(task_here.pk, title="Here 1"),
        comment(task_there.pk),
        create(project, title="Here 2"),
        delete(task_there.pk),
    )

    assert events_after(project, here) == [(here + 1, "task.updated"), (here + 2, "task.created")]
    assert events_after(other, there) == [
        (there + 1, "task.updated"),
        (there + 2, "comment.created"),
        (there + 3, "task.deleted"),
    ]


def test_a_batch_that_changes_nothing_records_nothing(client, project, task):
    before = stored_state()

    body = applied(client, update(task.pk, title="Existing"))

    assert body["results"][0]["data"]["version"] == 1
    assert stored_state() == before


# --- A failing command: its endpoint's answer, and nothing applied --------------------------------


@pytest.fixture
def viewed_task(user):
    """A task of a project where the caller (`user`) is a viewer."""
    owner = UserFactory()
    viewed = services.project_create(actor=owner, name="Read only")
    services.member_add(project=viewed, actor=owner, user=user.pk, role="viewer", operator=True)
    return make_task(project=viewed, title="Not yours to change")


@pytest.fixture
def foreign_task():
    """A task of a project the caller does not belong to."""
    owner = UserFactory()
    return make_task(project=services.project_create(actor=owner, name="Someone else's"), title="Hidden")


def test_an_invalid_command_is_its_endpoints_400_and_nothing_is_applied(client, project, task):
    before = stored_state()
    args = {"title": "", "labels": "not a list"}

    response = post_batch(client, create(project, "draft"), update("draft", title="Moved"), update(task.pk, **args))

    assert response.status_code == 400
    endpoint = client.patch(f"/api/tasks/{task.pk}/", args, format="json")
    assert endpoint.status_code == 400
    assert response.json() == {"failed": 2, "error": endpoint.json()}
    assert stored_state() == before


def test_a_create_in_a_project_the_caller_cannot_see_is_its_endpoints_400(client, project, foreign_task):
    before = stored_state()
    args = {"project": foreign_task.project_id, "title": "Sneaked in"}

    response = post_batch(client, create(project, "draft"), {"op": "task.create", "args": args})

    endpoint = client.post("/api/tasks/", args, format="json")
    assert (response.status_code, endpoint.status_code) == (400, 400)
    assert response.json() == {"failed": 1, "error": endpoint.json()}
    assert stored_state() == before


def test_a_viewers_command_is_its_endpoints_403_and_nothing_is_applied(client, project, viewed_task):
    before = stored_state()

    response = post_batch(client, create(project, "draft"), comment("draft"), comment(viewed_task.pk, "Mine"))

    assert response.status_code == 403
    endpoint = client.post(f"/api/tasks/{viewed_task.pk}/comments/", {"body": "Mine"}, format="json")
    assert endpoint.status_code == 403
    assert response.json() == {"failed": 2, "error": endpoint.json()}
    assert stored_state() == before


def test_another_users_task_is_its_endpoints_404_and_nothing_is_applied(client, project, foreign_task):
    before = stored_state()

    response = post_batch(client, create(project, "draft"), update("draft", title="Moved"), delete(foreign_task.pk))

    assert response.status_code == 404
    endpoint = client.delete(f"/api/tasks/{foreign_task.pk}/")
    assert endpoint.status_code == 404
    assert response.json() == {"failed": 2, "error": endpoint.json()}
    assert Task.objects.filter(pk=foreign_task.pk).exists()
    assert stored_state() == before


def test_a_stale_if_match_is_its_endpoints_412_with_the_current_task(client, project, task):
    services.task_update(task=task, actor=project.owner, data={"title": "Changed meanwhile"}, operator=True)
    before = stored_state()

    response = post_batch(client, create(project, "draft"), update(task.pk, if_match=1, title="Based on 1"))

    assert response.status_code == 412
    endpoint = client.patch(f"/api/tasks/{task.pk}/", {"title": "Based on 1"}, format="json", HTTP_IF_MATCH='"1"')
    assert endpoint.status_code == 412
    assert response.json() == {"failed": 1, "error": endpoint.json()}
    assert response.json()["error"]["version"] == 2
    assert stored_state() == before


def test_a_malformed_if_match_never_matches(client, task):
    response = post_batch(client, update(task.pk, if_match="version one", title="Never"))

    assert response.status_code == 412
    assert Task.objects.get(pk=task.pk).title == "Existing"


def test_a_stale_if_match_on_a_task_changed_earlier_in_the_batch_shows_it_as_the_batch_had_it(client, task):
    response = post_batch(client, update(task.pk, title="First"), update(task.pk, if_match=1, title="Second"))

    assert response.status_code == 412
    assert (response.json()["failed"], response.json()["error"]["title"]) == (1, "First")
    assert Task.objects.get(pk=task.pk).title == "Existing"


# --- The envelope and the commands' own fields ----------------------------------------------------


@pytest.mark.parametrize("count", [0, 101])
def test_a_batch_holds_1_to_100_commands(client, project, count):
    before = stored_state()

    response = post_batch(client, *[create(project) for _ in range(count)])

    assert response.status_code == 400
    assert list(response.json()) == ["commands"]
    assert stored_state() == before


def test_100_commands_are_applied(client, project):
    body = applied(client, *[create(project, title=f"Task {index}") for index in range(100)])

    assert len(body["results"]) == 100
    assert Task.objects.filter(project=project).count() == 100


@pytest.mark.parametrize("payload", [{}, {"commands": "task.create"}, [], {"commands": None}])
def test_a_body_without_a_list_of_commands_is_400(client, payload):
    response = client.post(BATCH, payload, format="json")

    assert response.status_code == 400
    assert "commands" in response.json() or "non_field_errors" in response.json()


def test_an_unknown_op_is_400_at_that_command(client, project):
    before = stored_state()

    response = post_batch(client, create(project), {"op": "task.archive", "id": 1})

    assert response.status_code == 400
    assert response.json() == {"failed": 1, "error": {"op": ['"task.archive" is not a valid choice.']}}
    assert stored_state() == before


def test_a_command_that_is_not_an_object_is_400_at_that_command(client, project):
    response = post_batch(client, create(project), ["task.create"])

    assert response.status_code == 400
    assert response.json()["failed"] == 1
    assert list(response.json()["error"]) == ["non_field_errors"]


def test_a_duplicate_temp_id_is_400_at_its_second_use(client, project):
    before = stored_state()

    response = post_batch(client, create(project, "same"), create(project, "other"), create(project, "same"))

    assert response.status_code == 400
    assert response.json() == {
        "failed": 2,
        "error": {"temp_id": ["An earlier command of this batch has this temp_id."]},
    }
    assert stored_state() == before


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda project: update("nowhere", title="Lost"), "id"),
        (lambda project: delete("nowhere"), "id"),
        (lambda project: comment("nowhere"), "task"),
        (lambda project: create(project, parent="nowhere"), "parent"),
        (lambda project: update("known", parent="nowhere"), "parent"),
    ],
)
def test_an_unknown_temp_id_is_400_at_that_command(client, project, command, field):
    before = stored_state()

    response = post_batch(client, create(project, "known"), command(project))

    assert response.status_code == 400
    assert response.json() == {
        "failed": 1,
        "error": {field: ["No earlier task.create of this batch has the temp_id 'nowhere'."]},
    }
    assert stored_state() == before


def test_a_temp_id_names_only_an_earlier_command(client, project):
    response = post_batch(client, update("later", title="Too soon"), create(project, "later"))

    assert response.status_code == 400
    assert response.json()["failed"] == 0


REFERENCE = "Enter a task id (an integer) or the temp_id of an earlier task.create (a string)."


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ({"op": "task.update", "args": {"title": "Which?"}}, {"id": ["This field is required."]}),
        ({"op": "task.update", "id": True, "args": {}}, {"id": [REFERENCE]}),
        ({"op": "task.update", "id": 0, "args": {}}, {"id": [REFERENCE]}),
        ({"op": "task.update", "id": "x" * 65, "args": {}}, {"id": [REFERENCE]}),
        ({"op": "task.update", "id": 1, "if_match": [1], "args": {}}, {"if_match": [IF_MATCH]}),
        (
            {"op": "task.update", "id": 1, "temp_id": "a", "args": {}},
            {"temp_id": ["Only task.create takes a temp_id."]},
        ),
        ({"op": "task.create", "temp_id": "", "args": {}}, {"temp_id": ["This field may not be blank."]}),
        ({"op": "task.create", "id": 1, "args": {}}, {"id": ["task.create takes no id."]}),
        (
            {"op": "task.create", "if_match": 1, "args": {}},
            {"if_match": ["Only task.update and task.delete take if_match."]},
        ),
        (
            {"op": "comment.create", "id": 1, "args": {}},
            {"id": ["comment.create takes no id (its task goes in args.task)."]},
        ),
        ({"op": "comment.create", "args": {"body": "Hi"}}, {"task": ["This field is required."]}),
        ({"op": "comment.create", "args": {"task": 1.5, "body": "Hi"}}, {"task": [REFERENCE]}),
        (
            {"op": "task.delete", "id": 1, "args": "nothing"},
            {"args": ['Expected a dictionary of items but got type "str".']},
        ),
    ],
)
def test_a_malformed_command_is_400_at_that_command(client, project, command, error):
    response = post_batch(client, create(project), command)

    assert response.status_code == 400, response.content
    assert response.json() == {"failed": 1, "error": error}
    assert Task.objects.count() == 0


# --- Events on a socket ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_batchs_events_reach_a_subscriber_once_in_order_and_a_failed_batchs_never(
    client, project, signed_in, user
):
    ws = await signed_in(user)
    await ws.send_json_to({"type": "subscribe", "project": project.pk})
    subscribed = await ws.receive_json_from(FRAME_TIMEOUT)
    assert subscribed["type"] == "subscribed"
    seq = subscribed["seq"]

    response = await sync_to_async(post_batch)(
        client, create(project, "draft", title="Live"), update("draft", status="done"), comment("draft")
    )
    assert response.status_code == 200

    frames = [await ws.receive_json_from(FRAME_TIMEOUT) for _ in range(3)]
    assert [(frame["seq"], frame["event"]) for frame in frames] == [
        (seq + 1, "task.created"),
        (seq + 2, "task.updated"),
        (seq + 3, "comment.created"),
    ]
    assert frames[1]["data"]["status"] == "done"
    assert await ws.receive_nothing(SILENCE)

    failed = await sync_to_async(post_batch)(client, create(project, "again"), comment("again"), delete(10**12))
    assert failed.status_code == 404
    assert await ws.receive_nothing(SILENCE)

    # The failed batch's seqs were never used: the next change has the next one.
    await sync_to_async(make_task)(project=project, title="After")
    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    assert (frame["seq"], frame["event"]) == (seq + 4, "task.created")


# --- The schema ----------------------------------------------------------------------------------


def test_every_answer_is_the_documented_one(schema, client, project, task, foreign_task, viewed_task):  # noqa: F811
    answers = [
        post_batch(client, create(project, "draft"), update("draft", status="done"), comment("draft"), delete("draft")),
        post_batch(client),
        post_batch(client, update(task.pk, title="")),
        post_batch(client, comment(viewed_task.pk)),
        post_batch(client, delete(foreign_task.pk)),
        post_batch(client, update(task.pk, if_match=7, title="Stale")),
    ]

    assert [answer.status_code for answer in answers] == [200, 400, 400, 403, 404, 412]
    for answer in answers:
        assert_documented(schema, "POST", BATCH, answer)


# --- Who may send one -----------------------------------------------------------------------------


def test_a_read_token_cannot_send_a_batch(api_client, user, project):
    token = personal_token_create(user=user, name="Reader", scope=TokenScope.READ)[1]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    before = stored_state()

    response = post_batch(api_client, create(project))

    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert stored_state() == before


def test_a_write_token_may_send_a_batch(api_client, user, project):
    token = personal_token_create(user=user, name="Writer", scope=TokenScope.WRITE)[1]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert post_batch(api_client, create(project)).status_code == 200


def test_an_anonymous_batch_is_401(api_client, project):
    before = stored_state()

    response = post_batch(api_client, create(project))

    assert response.status_code == 401
    assert stored_state() == before


# --- What it costs --------------------------------------------------------------------------------


def statements_of(client, method: str, path: str, body: dict, **headers) -> list[str]:
    """The request's statements, with those after its commit (the test's transaction never commits)."""
    with CaptureQueriesContext(connection) as queries, TestCase.captureOnCommitCallbacks(execute=True):
        response = getattr(client, method)(path, body, format="json", **headers)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(TRANSACTION_CONTROL)]


def test_each_command_costs_what_its_endpoint_does(client, project):
    tasks = [make_task(project=project, title=f"Task {index}") for index in range(11)]
    patch = statements_of(client, "patch", f"/api/tasks/{tasks[0].pk}/", {"title": "Patched"})

    one = statements_of(client, "post", BATCH, {"commands": [update(tasks[1].pk, title="Batched")]})
    nine = statements_of(client, "post", BATCH, {"commands": [update(t.pk, title="Batched") for t in tasks[2:]]})

    # Per command exactly the PATCH's statements (the task read with the caller's role, its update, the
    # next seq, the event, the activity, the webhooks check after the commit); per batch, the caller's
    # check, its writable projects, which tasks it names, their locks, and its projects' counters.
    assert len(nine) - len(one) == 8 * len(patch), nine
    assert len(one) == len(patch) + 5, one


# --- Concurrent writers (MySQL) -------------------------------------------------------------------


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("concurrent writers need a server database; this runs in the MySQL + Redis pass")


def _in_threads(workers) -> list:
    """Run the callables in threads started together; what they returned or raised."""
    outcomes = []
    start = threading.Barrier(len(workers))

    def run(work) -> None:
        try:
            start.wait()
            outcomes.append(work())
        except Exception as exc:  # reported by the test, not swallowed
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def tags_in_seq_order(project: Project, *, after: int) -> list[str]:
    """What each event after seq `after` wrote: the task's title, or the comment's body."""
    events = Event.objects.filter(project=project, seq__gt=after).order_by("seq")
    return [event.data["body"] if event.type == "comment.created" else event.data["title"] for event in events]


@pytest.mark.django_db(transaction=True)
def test_batches_in_opposite_orders_queue_instead_of_deadlocking(on_mysql, client_for, user, project):
    other = services.project_create(actor=user, name="Other")
    here, there = make_task(project=project, title="Here"), make_task(project=other, title="There")
    seqs_before = {project.pk: seq_of(project), other.pk: seq_of(other)}
    rounds = 8

    def batches(name: str, first: Task, second: Task) -> list[int]:
        # Rows and counters named in the opposite order by "b": without the batch's lock order,
        # "a" and "b" would each hold what the other waits for.
        client = client_for(user)
        statuses = []
        for index in range(rounds):
            tag = f"{name}-{index}"
            response = post_batch(
                client,
                update(first.pk, title=tag),
                update(second.pk, title=tag),
                comment(first.pk, tag),
                create(Project.objects.get(pk=second.project_id), title=tag),
            )
            statuses.append(response.status_code)
        return statuses

    def patches(task: Task) -> list[int]:
        client = client_for(user)
        return [
            client.patch(f"/api/tasks/{task.pk}/", {"title": f"patch-{task.pk}-{index}"}, format="json").status_code
            for index in range(rounds)
        ]

    outcomes = _in_threads(
        [
            lambda: batches("a", here, there),
            lambda: batches("b", there, here),
            lambda: batches("c", here, there),
            lambda: patches(here),
            lambda: patches(there),
        ]
    )

    assert outcomes == [[200] * rounds] * 5
    for each in (project, other):
        seqs = list(Event.objects.filter(project=each).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, seq_of(each) + 1))
        # Each batch's events in a project are consecutive: no other write's came between them.
        tags = tags_in_seq_order(each, after=seqs_before[each.pk])
        runs = [tag for index, tag in enumerate(tags) if index == 0 or tags[index - 1] != tag]
        assert len(runs) == len(set(runs)) == 3 * rounds + rounds, tags


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_waited_too_long_for_a_lock_is_a_503_to_send_again(on_mysql, client, user, project, task):
    responses = []
    client.raise_request_exception = False

    def request() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            responses.append(post_batch(client, create(project, "draft"), update(task.pk, title="Waited")))
        finally:
            connection.close()

    before = stored_state()
    requester = threading.Thread(target=request)
    with transaction.atomic():
        Task.objects.select_for_update().get(pk=task.pk)
        requester.start()
        requester.join(timeout=15)

    [response] = responses
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert set(response.json()) == {"detail"}
    assert stored_state() == before
    assert post_batch(client, create(project, "draft"), update(task.pk, title="Waited")).status_code == 200
