"""The event log: one event per change, holding what a fresh read returns, published after commit."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.db import transaction

from accounts.tests.factories import UserFactory
from realtime.events import event_append
from realtime.models import Event, EventType
from tasks import services
from tasks.models import Project
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def new_events(project: Project, after_seq: int) -> list[Event]:
    return list(Event.objects.filter(project=project, seq__gt=after_seq).order_by("seq"))


def current_seq(project: Project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


def only_event(project: Project, after_seq: int) -> Event:
    """The one event recorded after `after_seq`; fails if there are none or several."""
    events = new_events(project, after_seq)
    assert len(events) == 1, [event.type for event in events]
    return events[0]


def member_entry(client, project: Project, user_id: int) -> dict:
    members = client.get(f"/api/projects/{project.pk}/members/").json()["results"]
    return next(member for member in members if member["user"] == user_id)


def project_event_data(client, project: Project) -> dict:
    """A fresh GET of the project without the caller-specific fields events leave out."""
    body = client.get(f"/api/projects/{project.pk}/").json()
    return {name: value for name, value in body.items() if name not in {"role", "event_seq"}}


# --- One event per change, equal to a fresh read ------------------------------------------------


def test_creating_a_task_records_task_created_equal_to_a_fresh_read(client, user, project):
    seq = current_seq(project)
    response = client.post(
        "/api/tasks/",
        {"project": project.pk, "title": "Write docs", "labels": ["docs"], "due_at": "2030-01-01T02:00:00+02:00"},
        format="json",
    )
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("task.created", user.pk)
    assert event.data == client.get(f"/api/tasks/{response.json()['id']}/").json()


def test_patching_a_task_records_task_updated_equal_to_a_fresh_read(client, user, project):
    task = make_task(project=project)
    seq = current_seq(project)
    client.patch(f"/api/tasks/{task.pk}/", {"title": "Renamed", "status": "done"}, format="json")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("task.updated", user.pk)
    assert event.data == client.get(f"/api/tasks/{task.pk}/").json()


def test_patching_every_field_stores_what_the_response_and_the_event_show(client, user, project):
    task = make_task(project=project, labels=["old"])
    seq = current_seq(project)
    response = client.patch(
        f"/api/tasks/{task.pk}/",
        {
            "title": "Every field",
            "description": "Zoë's ✓",
            "status": "in_progress",
            "priority": "urgent",
            "assignee": user.pk,
            "due_at": "2030-01-01T02:00:00+02:00",
            "labels": ["b", "a"],
            "position": 2.5,
        },
        format="json",
    )
    fresh = client.get(f"/api/tasks/{task.pk}/").json()
    assert response.json() == fresh == only_event(project, seq).data
    assert (fresh["due_at"], fresh["labels"], fresh["version"]) == ("2030-01-01T00:00:00Z", ["b", "a"], 2)


def test_putting_a_task_records_task_updated_equal_to_a_fresh_read(client, project):
    task = make_task(project=project)
    seq = current_seq(project)
    client.put(
        f"/api/tasks/{task.pk}/", {"title": "Replaced", "priority": "urgent", "labels": ["a", "b"]}, format="json"
    )
    event = only_event(project, seq)
    assert event.type == "task.updated"
    assert event.data == client.get(f"/api/tasks/{task.pk}/").json()


def test_reopening_a_done_task_records_the_cleared_completion(client, project):
    task = make_task(project=project, status="done")
    seq = current_seq(project)
    client.patch(f"/api/tasks/{task.pk}/", {"status": "todo"}, format="json")
    event = only_event(project, seq)
    assert event.data["completed_at"] is None
    assert event.data == client.get(f"/api/tasks/{task.pk}/").json()


def test_deleting_a_task_records_task_deleted_with_its_id(client, user, project):
    task = make_task(project=project)
    seq = current_seq(project)
    client.delete(f"/api/tasks/{task.pk}/")
    event = only_event(project, seq)
    assert (event.type, event.actor_id, event.data["id"]) == ("task.deleted", user.pk, task.pk)


def test_updating_a_project_records_project_updated_equal_to_a_fresh_read(client, user, project):
    seq = current_seq(project)
    client.patch(f"/api/projects/{project.pk}/", {"name": "Renamed", "description": "New plan"}, format="json")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("project.updated", user.pk)
    assert event.data == project_event_data(client, project)


def test_adding_a_member_records_member_added_equal_to_a_fresh_read(client, user, project):
    newcomer = UserFactory()
    seq = current_seq(project)
    client.post(f"/api/projects/{project.pk}/members/", {"user": newcomer.username, "role": "viewer"}, format="json")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("member.added", user.pk)
    assert event.data == member_entry(client, project, newcomer.pk)


def test_changing_a_role_records_member_updated_equal_to_a_fresh_read(client, user, project, add_member):
    member = add_member(role="viewer")
    seq = current_seq(project)
    client.patch(f"/api/projects/{project.pk}/members/{member.pk}/", {"role": "member"}, format="json")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("member.updated", user.pk)
    assert event.data == member_entry(client, project, member.pk)


def test_removing_a_member_records_member_removed_with_the_member_as_it_was(client, user, project, add_member):
    member = add_member(role="viewer")
    before_removal = member_entry(client, project, member.pk)
    seq = current_seq(project)
    client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("member.removed", user.pk)
    assert event.data == before_removal


def test_member_leaving_records_member_removed_by_themselves(client_for, project, add_member):
    member = add_member()
    seq = current_seq(project)
    client_for(member).delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    event = only_event(project, seq)
    assert (event.type, event.actor_id) == ("member.removed", member.pk)


def test_removing_a_member_records_each_unassigned_task_then_the_removal(client, project, add_member):
    member = add_member()
    first, second = make_task(project=project, assignee=member.pk), make_task(project=project, assignee=member.pk)
    seq = current_seq(project)
    client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    events = new_events(project, seq)
    assert [event.type for event in events] == ["task.updated", "task.updated", "member.removed"]
    assert [event.data for event in events[:2]] == [
        client.get(f"/api/tasks/{first.pk}/").json(),
        client.get(f"/api/tasks/{second.pk}/").json(),
    ]


# --- Nothing recorded when nothing changes ------------------------------------------------------


def test_patch_that_changes_nothing_records_nothing(client, project):
    task = make_task(project=project, title="Same")
    seq = current_seq(project)
    response = client.patch(f"/api/tasks/{task.pk}/", {"title": "Same"}, format="json")
    assert response.json()["version"] == 1
    assert new_events(project, seq) == []


def test_project_patch_that_changes_nothing_records_nothing(client, project):
    seq = current_seq(project)
    client.patch(f"/api/projects/{project.pk}/", {"name": project.name}, format="json")
    assert new_events(project, seq) == []


def test_refused_change_records_nothing(client_for, project, add_member):
    task = make_task(project=project)
    viewer = client_for(add_member(role="viewer"))
    seq = current_seq(project)
    response = viewer.patch(f"/api/tasks/{task.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 403
    assert new_events(project, seq) == []


def test_stale_if_match_records_nothing(client, project):
    task = make_task(project=project)
    seq = current_seq(project)
    response = client.patch(f"/api/tasks/{task.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH='"7"')
    assert response.status_code == 412
    assert new_events(project, seq) == []


def test_invalid_assignee_records_nothing(client, project):
    task = make_task(project=project)
    seq = current_seq(project)
    response = client.patch(f"/api/tasks/{task.pk}/", {"assignee": UserFactory().pk}, format="json")
    assert response.status_code == 400
    assert new_events(project, seq) == []


# --- Sequence numbers ---------------------------------------------------------------------------


def test_seqs_of_a_project_run_from_1_without_gaps(client, project, add_member):
    member = add_member()
    task = make_task(project=project, assignee=member.pk)
    client.patch(f"/api/tasks/{task.pk}/", {"status": "in_progress"}, format="json")
    client.patch(f"/api/projects/{project.pk}/", {"name": "Renamed"}, format="json")
    client.patch(f"/api/tasks/{task.pk}/", {"title": "Unchanged"}, format="json", HTTP_IF_MATCH='"1"')  # 412
    client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    client.delete(f"/api/tasks/{task.pk}/")
    seqs = list(Event.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert client.get(f"/api/projects/{project.pk}/").json()["event_seq"] == len(seqs) == 8


def test_change_after_one_that_changed_nothing_takes_the_next_seq(client, project):
    task = make_task(project=project, title="Same")
    seq = current_seq(project)
    client.patch(f"/api/tasks/{task.pk}/", {"title": "Same"}, format="json")  # takes a seq, gives it back
    assert current_seq(project) == seq
    client.patch(f"/api/tasks/{task.pk}/", {"title": "Changed"}, format="json")
    assert [event.seq for event in new_events(project, seq)] == [seq + 1]
    assert current_seq(project) == seq + 1


def test_one_transaction_changing_several_tasks_numbers_their_events_in_order(user, project):
    tasks = [make_task(project=project, title=f"Task {index}") for index in range(3)]
    seq = current_seq(project)
    # The admin's bulk action: one transaction, one task_update (and event) per task that changes;
    # the first task, given twice, changes once.
    services.task_bulk_update(tasks=[*tasks, tasks[0]], actor=user, changes={"status": "done"}, operator=True)
    events = new_events(project, seq)
    assert [(event.seq, event.data["id"]) for event in events] == [(seq + 1 + i, t.pk) for i, t in enumerate(tasks)]
    assert current_seq(project) == seq + 3


def test_each_project_numbers_its_own_events(user, project):
    other = services.project_create(actor=user, name="Other")
    make_task(project=project)
    make_task(project=other)
    make_task(project=project)
    assert list(project.events.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert list(other.events.order_by("seq").values_list("seq", flat=True)) == [1, 2]


def test_task_list_header_carries_the_latest_seq(client, project):
    make_task(project=project)
    response = client.get("/api/tasks/", {"project": project.pk})
    assert response["X-Event-Seq"] == str(current_seq(project)) == "2"


def test_replaying_the_feed_rebuilds_the_task_list(client, project, add_member):
    member = add_member()
    kept = make_task(project=project, title="Kept")
    gone = make_task(project=project, title="Gone")
    client.patch(f"/api/tasks/{kept.pk}/", {"assignee": member.pk, "labels": ["x"]}, format="json")
    client.post("/api/tasks/", {"project": project.pk, "title": "Late"}, format="json")
    client.delete(f"/api/tasks/{gone.pk}/")
    client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    state: dict[int, dict] = {}
    for event in client.get(f"/api/projects/{project.pk}/events/").json()["events"]:
        if event["type"] in {"task.created", "task.updated"}:
            state[event["data"]["id"]] = event["data"]
        elif event["type"] == "task.deleted":
            state.pop(event["data"]["id"])
    fresh = client.get("/api/tasks/", {"project": project.pk}).json()["results"]
    assert state == {task["id"]: task for task in fresh}


# --- Deleting a project -------------------------------------------------------------------------


def test_deleting_a_project_removes_its_events(client, project):
    make_task(project=project)
    client.delete(f"/api/projects/{project.pk}/")
    assert not Event.objects.filter(project_id=project.pk).exists()


def test_deleting_a_project_records_nothing_elsewhere(client, user, project, add_member):
    other = services.project_create(actor=user, name="Other")
    make_task(project=other)
    add_member()
    make_task(project=project)
    other_events = list(Event.objects.filter(project=other).values_list("seq", "type"))
    client.delete(f"/api/projects/{project.pk}/")
    assert list(Event.objects.values_list("seq", "type")) == other_events


# --- Publishing after commit --------------------------------------------------------------------


class Subscriber:
    """A channel in a project's group, as the WebSocket consumer of a subscribed client is."""

    def __init__(self, project: Project):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(f"project.{project.pk}", self.channel)

    def frames(self, timeout: float = 0.2) -> list[dict]:
        """Every frame published so far (waiting `timeout` for each next one)."""

        async def drain() -> list[dict]:
            frames = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return frames
                frames.append(json.loads(message["text"]))

        return async_to_sync(drain)()


@pytest.fixture
def in_memory_layer(settings):
    """A channel layer of this test's own, whatever CHANNEL_LAYERS the run uses."""
    channel_layers.backends.clear()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    channel_layers.backends.clear()


@pytest.fixture
def subscriber(in_memory_layer, project) -> Subscriber:
    return Subscriber(project)


def test_event_is_published_only_after_commit(client, project, subscriber, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/tasks/", {"project": project.pk, "title": "Live"}, format="json")
        assert subscriber.frames(timeout=0.05) == []
    assert [frame["event"] for frame in subscriber.frames()] == ["task.created"]


def test_published_frame_is_the_logged_event_with_its_type_under_event(
    client, project, subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/tasks/", {"project": project.pk, "title": "Live"}, format="json")
    [frame] = subscriber.frames()
    [record] = client.get(f"/api/projects/{project.pk}/events/", {"since": 1}).json()["events"]
    assert frame == {
        "type": "event",
        "seq": record["seq"],
        "project": record["project"],
        "event": record["type"],
        "actor": record["actor"],
        "at": record["at"],
        "data": record["data"],
    }


def test_published_task_data_equals_a_fresh_read(client, user, project, subscriber, django_capture_on_commit_callbacks):
    task = make_task(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/tasks/{task.pk}/", {"status": "done"}, format="json")
    [frame] = subscriber.frames()
    assert (frame["event"], frame["seq"], frame["actor"]) == ("task.updated", 3, user.pk)
    assert frame["data"] == client.get(f"/api/tasks/{task.pk}/").json()


def test_several_events_of_one_change_are_each_published_once_in_seq_order(
    client, project, add_member, subscriber, django_capture_on_commit_callbacks
):
    member = add_member()
    make_task(project=project, assignee=member.pk)
    make_task(project=project, assignee=member.pk)
    seq = current_seq(project)
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(f"/api/projects/{project.pk}/members/{member.pk}/")
    frames = subscriber.frames()
    assert [(frame["seq"], frame["event"]) for frame in frames] == [
        (seq + 1, "task.updated"),
        (seq + 2, "task.updated"),
        (seq + 3, "member.removed"),
    ]


def test_subscriber_of_another_project_receives_nothing(
    client, user, project, in_memory_layer, django_capture_on_commit_callbacks
):
    other = services.project_create(actor=user, name="Other")
    elsewhere = Subscriber(other)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/tasks/", {"project": project.pk, "title": "Live"}, format="json")
    assert elsewhere.frames() == []


def test_rolled_back_transaction_records_and_publishes_nothing(project, subscriber, django_capture_on_commit_callbacks):
    seq = current_seq(project)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        make_task(project=project, title="Never")
        raise RuntimeError("abort")
    assert new_events(project, seq) == []
    assert current_seq(project) == seq
    assert subscriber.frames() == []


def test_refused_change_publishes_nothing(client, project, subscriber, django_capture_on_commit_callbacks):
    task = make_task(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/tasks/{task.pk}/", {"assignee": UserFactory().pk}, format="json")
    assert subscriber.frames() == []


def test_deleting_a_project_publishes_nothing(client, project, subscriber, django_capture_on_commit_callbacks):
    make_task(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/projects/{project.pk}/")
    assert response.status_code == 204
    assert subscriber.frames() == []


def test_change_is_committed_and_logged_when_the_channel_layer_is_unreachable(
    client, project, settings, django_capture_on_commit_callbacks
):
    channel_layers.backends.clear()
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/tasks/", {"project": project.pk, "title": "Offline"}, format="json")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 201
    assert project.events.filter(type="task.created", data__id=response.json()["id"]).exists()


def test_an_event_row_reads_back_as_it_was_appended(user, project):
    data = {"title": "Zoë's “quoted” task ✓", "labels": ["a", "b"], "nested": {"n": 1, "none": None}}
    with transaction.atomic():
        appended = event_append(project_id=project.pk, event_type=EventType.TASK_UPDATED, data=data, actor_id=user.pk)

    stored = Event.objects.get(pk=appended.pk)
    assert (stored.project_id, stored.seq, stored.type, stored.actor_id, stored.data) == (
        project.pk,
        appended.seq,
        "task.updated",
        user.pk,
        data,
    )
    assert stored.created_at == appended.created_at
    assert stored.created_at.tzinfo is not None
    assert Event.objects.filter(project=project).latest("seq").pk == appended.pk
