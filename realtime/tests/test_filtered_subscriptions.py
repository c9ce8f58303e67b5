"""Filtered subscriptions as a client sees them: the events of tasks in its view in full, a task
leaving the view sent once more, every other seq inside a `skip` frame; per project every seq
exactly once, in order, live and in a replay alike."""

import pytest
from asgiref.sync import sync_to_async

from accounts.tests.factories import UserFactory
from comments.services import comment_create
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def accounted_seqs(frames: list[dict]) -> list[int]:
    """Every seq the frames account for, in the order they do: events one each, skips by range."""
    seqs = []
    for frame in frames:
        if frame["type"] == "event":
            seqs.append(frame["seq"])
        elif frame["type"] == "skip":
            assert frame["from"] <= frame["to"], frame
            seqs.extend(range(frame["from"], frame["to"] + 1))
    return seqs


async def frames_through(ws, project_id: int, seq: int) -> list[dict]:
    """Frames until seq `seq` of the project is accounted for (each within FRAME_TIMEOUT)."""
    frames: list[dict] = []
    while not accounted_seqs(frames) or accounted_seqs(frames)[-1] < seq:
        frames.append(await ws.receive_json_from(FRAME_TIMEOUT))
    return frames


def latest_seq(project) -> int:
    project.refresh_from_db()
    return project.event_seq


@pytest.fixture
def team(db):
    """An owner, a member, their project, and a seq to start from."""
    owner, member = UserFactory(username="owner"), UserFactory(username="mia")
    project = services.project_create(actor=owner, name="Launch")
    services.member_add(project=project, actor=owner, user=member.pk, role="member", operator=True)
    return {"owner": owner, "member": member, "project": project}


async def subscribe_filtered(signed_in, user, project, view: dict, **since):
    ws = await signed_in(user)
    await ws.send_json_to({"type": "subscribe", "project": project.pk, "filter": view, **since})
    frames = []
    while not frames or frames[-1]["type"] != "subscribed":
        frames.append(await ws.receive_json_from(FRAME_TIMEOUT))
    return ws, frames


@sync_to_async
def write(fn, /, **kwargs):
    """A service call, as an operator would make it (the objects here are not read with a role)."""
    return fn(**kwargs, operator=True)


async def test_only_tasks_in_the_view_come_in_full_and_every_seq_is_accounted_for(signed_in, team):
    project, owner = team["project"], team["owner"]
    ws, _ = await subscribe_filtered(signed_in, owner, project, {"status": ["todo"]})
    start = await sync_to_async(latest_seq)(project)

    todo = await write(services.task_create, project=project, actor=owner, data={"title": "In view"})
    done = await write(services.task_create, project=project, actor=owner, data={"title": "Out", "status": "done"})
    await write(services.task_update, task=done, actor=owner, data={"title": "Still out"})
    await write(services.task_update, task=todo, actor=owner, data={"title": "Still in"})
    frames = await frames_through(ws, project.pk, start + 4)

    assert [(f["type"], f.get("seq"), f.get("from"), f.get("to")) for f in frames] == [
        ("event", start + 1, None, None),
        ("skip", None, start + 2, start + 3),
        ("event", start + 4, None, None),
    ]
    assert [f["data"]["title"] for f in frames if f["type"] == "event"] == ["In view", "Still in"]
    assert accounted_seqs(frames) == list(range(start + 1, start + 5))
    assert await ws.receive_nothing(SILENCE)


async def test_a_task_leaving_the_view_is_sent_so_the_client_can_drop_it(signed_in, team):
    project, owner = team["project"], team["owner"]
    task = await sync_to_async(make_task)(project=project, status="todo")
    ws, _ = await subscribe_filtered(signed_in, owner, project, {"status": ["todo", "in_progress"]})

    await write(services.task_update, task=task, actor=owner, data={"status": "done"})  # leaves
    task = await sync_to_async(type(task).objects.get)(pk=task.pk)
    await write(services.task_update, task=task, actor=owner, data={"title": "Gone from view"})  # out
    await write(services.task_update, task=task, actor=owner, data={"status": "in_progress"})  # back
    seq = await sync_to_async(latest_seq)(project)
    frames = await frames_through(ws, project.pk, seq)

    assert [f["type"] for f in frames] == ["event", "skip", "event"]
    assert frames[0]["data"]["status"] == "done"
    assert frames[2]["data"]["status"] == "in_progress"


async def test_assignee_me_and_labels_filter_together(signed_in, team):
    project, owner, member = team["project"], team["owner"], team["member"]
    ws, _ = await subscribe_filtered(signed_in, member, project, {"assignee": "me", "labels": ["urgent", "bug"]})
    start = await sync_to_async(latest_seq)(project)

    data = [
        {"title": "Mine, urgent", "assignee": member.pk, "labels": ["urgent"]},
        {"title": "Mine, no label", "assignee": member.pk},
        {"title": "Theirs, bug", "assignee": owner.pk, "labels": ["bug"]},
        {"title": "Mine, bug and docs", "assignee": member.pk, "labels": ["docs", "bug"]},
    ]
    for fields in data:
        await write(services.task_create, project=project, actor=owner, data=fields)
    frames = await frames_through(ws, project.pk, start + 4)

    assert [f["data"]["title"] for f in frames if f["type"] == "event"] == ["Mine, urgent", "Mine, bug and docs"]
    assert accounted_seqs(frames) == list(range(start + 1, start + 5))


async def test_comments_follow_their_task_and_project_events_always_come(signed_in, team):
    project, owner = team["project"], team["owner"]
    in_view = await sync_to_async(make_task)(project=project, status="todo")
    out_of_view = await sync_to_async(make_task)(project=project, status="done")
    ws, _ = await subscribe_filtered(signed_in, owner, project, {"status": ["todo"]})

    await write(comment_create, task=out_of_view, actor=owner, body="Not shown")
    await write(comment_create, task=in_view, actor=owner, body="Shown")
    await write(services.project_update, project=project, actor=owner, data={"name": "Launch 2"})
    seq = await sync_to_async(latest_seq)(project)
    frames = await frames_through(ws, project.pk, seq)

    assert [(f["type"], f.get("event")) for f in frames] == [
        ("skip", None),
        ("event", "comment.created"),
        ("event", "project.updated"),
    ]
    assert frames[1]["data"]["body"] == "Shown"


async def test_a_replay_is_filtered_as_the_live_stream_is(signed_in, team):
    project, owner = team["project"], team["owner"]
    start = await sync_to_async(latest_seq)(project)
    for status in ["todo", "done", "done", "todo", "done"]:
        await write(services.task_create, project=project, actor=owner, data={"title": status, "status": status})

    _, frames = await subscribe_filtered(signed_in, owner, project, {"status": ["todo"]}, since=start)

    assert [(f["type"], f.get("seq"), f.get("from"), f.get("to")) for f in frames] == [
        ("event", start + 1, None, None),
        ("skip", None, start + 2, start + 3),
        ("event", start + 4, None, None),
        ("skip", None, start + 5, start + 5),
        ("subscribed", start + 5, None, None),
    ]


async def test_a_deleted_task_in_the_view_is_sent(signed_in, team):
    project, owner = team["project"], team["owner"]
    kept = await sync_to_async(make_task)(project=project, status="todo")
    dropped = await sync_to_async(make_task)(project=project)
    await write(services.task_update, task=dropped, actor=owner, data={"status": "cancelled"})
    ws, _ = await subscribe_filtered(signed_in, owner, project, {"status": ["todo"]})

    await write(services.task_delete, task=dropped, actor=owner)
    await write(services.task_delete, task=kept, actor=owner)
    seq = await sync_to_async(latest_seq)(project)
    frames = await frames_through(ws, project.pk, seq)

    assert [(f["type"], f.get("event"), f.get("data", {}).get("id")) for f in frames] == [
        ("skip", None, None),
        ("event", "task.deleted", kept.pk),
    ]


async def test_without_a_filter_nothing_is_skipped(signed_in, team):
    project, owner = team["project"], team["owner"]
    ws = await signed_in(owner)
    await ws.send_json_to({"type": "subscribe", "project": project.pk})
    assert (await ws.receive_json_from(FRAME_TIMEOUT))["type"] == "subscribed"

    await write(services.task_create, project=project, actor=owner, data={"title": "Any", "status": "done"})

    assert (await ws.receive_json_from(FRAME_TIMEOUT))["type"] == "event"


async def test_subscribing_again_without_the_filter_drops_it(signed_in, team):
    project, owner = team["project"], team["owner"]
    ws, _ = await subscribe_filtered(signed_in, owner, project, {"status": ["todo"]})
    await ws.send_json_to({"type": "subscribe", "project": project.pk})
    assert (await ws.receive_json_from(FRAME_TIMEOUT))["type"] == "subscribed"

    await write(services.task_create, project=project, actor=owner, data={"title": "Done", "status": "done"})

    assert (await ws.receive_json_from(FRAME_TIMEOUT))["event"] == "task.created"


@pytest.mark.parametrize(
    "view",
    [
        "todo",
        {"status": "todo"},
        {"status": []},
        {"status": ["todo", "someday"]},
        {"labels": [1]},
        {"assignee": "you"},
        {"assignee": True},
        {"owner": 1},
        {"labels": ["x"] * 51},
    ],
)
async def test_a_bad_filter_is_a_bad_request_and_subscribes_nothing(signed_in, team, view):
    ws = await signed_in(team["owner"])
    await ws.send_json_to({"type": "subscribe", "project": team["project"].pk, "filter": view})

    frame = await ws.receive_json_from(FRAME_TIMEOUT)

    assert (frame["type"], frame["code"]) == ("error", "bad_request")
    assert "filter" in frame["detail"]
    assert await ws.receive_nothing(SILENCE)
