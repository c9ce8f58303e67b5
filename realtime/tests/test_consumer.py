"""The WebSocket stream at /ws/ as a client sees it: frames received, their order, and close codes.

Each test talks to `taskflow.asgi.application` through Channels' WebsocketCommunicator, on the
configured channel layer (in-memory, or Redis pub/sub when REDIS_URL is set), with changes made
through the services so that events are recorded and published on commit as in production.
"""

import asyncio
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from realtime.events import event_message, project_group
from realtime.hub import ProjectHub
from realtime.models import Event, EventType
from realtime.tests.websocket import FRAME_TIMEOUT, MAX_FRAME_BYTES, SILENCE, access_token, auth_ok
from taskflow.asgi import application
from tasks import services
from tasks.models import Membership, Project
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


async def next_frame(ws: WebsocketCommunicator, timeout: float = FRAME_TIMEOUT) -> dict:
    return await ws.receive_json_from(timeout)


async def close_message(ws: WebsocketCommunicator, timeout: float = FRAME_TIMEOUT) -> dict:
    """The next thing the server sends, expected to be the close (code included)."""
    return await ws.receive_output(timeout)


def closed_with(code: int) -> dict:
    return {"type": "websocket.close", "code": code}


async def subscribe(ws: WebsocketCommunicator, project_id: int, **since) -> None:
    await ws.send_json_to({"type": "subscribe", "project": project_id, **since})


async def subscribed(ws: WebsocketCommunicator, project, **since) -> dict:
    """Subscribe, expecting no replay; returns the `subscribed` frame."""
    await subscribe(ws, project.pk, **since)
    frame = await next_frame(ws)
    assert frame["type"] == "subscribed", frame
    return frame


async def frames_until(ws: WebsocketCommunicator, done) -> list[dict]:
    """Frames received until `done(frames)` holds; each must come within FRAME_TIMEOUT."""
    frames: list[dict] = []
    while not done(frames):
        frames.append(await next_frame(ws))
    return frames


async def pong_follows(ws: WebsocketCommunicator) -> bool:
    await ws.send_json_to({"type": "ping"})
    return await next_frame(ws) == {"type": "pong"}


def event_seqs(frames: list[dict]) -> list[int]:
    return [frame["seq"] for frame in frames if frame["type"] == "event"]


@sync_to_async
def new_user():
    return UserFactory()


@sync_to_async
def new_project(owner, name: str = "Launch") -> Project:
    return services.project_create(actor=owner, name=name)


@sync_to_async
def add_task(project: Project, title: str = "A task"):
    return make_task(project=project, title=title)


@sync_to_async
def add_member(project: Project, user) -> None:
    services.member_add(project=project, actor=project.owner, user=user.pk, operator=True)


@sync_to_async
def remove_member(project: Project, user) -> None:
    membership = Membership.objects.get(project=project, user=user)
    services.member_remove(project=project, actor=project.owner, membership=membership, operator=True)


@sync_to_async
def delete_project(project: Project) -> None:
    services.project_delete(project=project, actor=project.owner, operator=True)


@sync_to_async
def current_seq(project: Project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


@sync_to_async
def forget_events(project: Project, *, upto_seq: int) -> None:
    """What retention does: the oldest events of the project leave the log."""
    Event.objects.filter(project=project, seq__lte=upto_seq).delete()


@sync_to_async
def record_event_without_publishing(project: Project) -> int:
    """What a lost publish looks like: the event is committed to the log, the channel layer never carries it."""
    with transaction.atomic():
        seq = Project.objects.select_for_update().values_list("event_seq", flat=True).get(pk=project.pk) + 1
        Project.objects.filter(pk=project.pk).update(event_seq=seq)
        Event.objects.create(
            project_id=project.pk,
            seq=seq,
            type=EventType.PROJECT_UPDATED,
            data={"id": project.pk, "name": "Renamed while Redis was away", "description": ""},
        )
    return seq


# --- Authentication -------------------------------------------------------------------------------


async def test_auth_with_a_valid_token_answers_auth_ok_with_the_user(sockets, user):
    ws = await sockets()

    await ws.send_json_to({"type": "auth", "token": access_token(user)})

    assert await next_frame(ws) == {"type": "auth.ok", "user": {"id": user.pk, "username": user.username}}


@pytest.mark.parametrize(
    "auth_frame",
    [
        pytest.param({"type": "auth", "token": "not-a-jwt"}, id="garbage"),
        pytest.param({"type": "auth", "token": ""}, id="empty"),
        pytest.param({"type": "auth", "token": 42}, id="not-a-string"),
        pytest.param({"type": "auth"}, id="missing"),
    ],
)
async def test_auth_with_a_bad_token_closes_4401(sockets, auth_frame):
    ws = await sockets()

    await ws.send_json_to(auth_frame)

    assert await close_message(ws) == closed_with(4401)


async def test_auth_with_a_refresh_token_closes_4401(sockets, user):
    refresh = await sync_to_async(RefreshToken.for_user)(user)
    ws = await sockets()

    await ws.send_json_to({"type": "auth", "token": str(refresh)})

    assert await close_message(ws) == closed_with(4401)


async def test_auth_with_an_expired_token_closes_4401(sockets, user):
    ws = await sockets()

    await ws.send_json_to({"type": "auth", "token": access_token(user, lifetime=timedelta(seconds=-1))})

    assert await close_message(ws) == closed_with(4401)


async def test_no_auth_within_the_timeout_closes_4408(sockets, settings):
    settings.TASKFLOW_WS_AUTH_TIMEOUT = 0.3
    ws = await sockets()

    assert await ws.receive_nothing(timeout=0.1)
    assert await close_message(ws, timeout=2) == closed_with(4408)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param('{"type": "ping"}', id="ping"),
        pytest.param('{"type": "subscribe", "project": 1}', id="subscribe"),
        pytest.param("hello", id="garbage-text"),
        pytest.param("[1, 2]", id="json-array"),
        pytest.param("[" * 50_000, id="deeply-nested-json"),
    ],
)
async def test_any_other_frame_before_auth_closes_4401(sockets, frame):
    ws = await sockets()

    await ws.send_to(text_data=frame)

    assert await close_message(ws) == closed_with(4401)


async def test_binary_frame_before_auth_closes_4401(sockets):
    ws = await sockets()

    await ws.send_to(bytes_data=b"\x00\x01")

    assert await close_message(ws) == closed_with(4401)


async def test_token_in_the_url_does_not_authenticate(sockets, user):
    ws = await sockets(f"/ws/?token={access_token(user)}")

    await ws.send_json_to({"type": "ping"})

    assert await close_message(ws) == closed_with(4401)


# --- Subscribing, replay and live events ---------------------------------------------------------


async def test_subscribe_without_since_answers_subscribed_with_the_current_seq_and_no_replay(signed_in, user, project):
    await add_task(project)
    ws = await signed_in(user)

    await subscribe(ws, project.pk)

    assert await next_frame(ws) == {"type": "subscribed", "project": project.pk, "seq": 2}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_subscribe_without_since_then_delivers_live_events(signed_in, user, project):
    ws = await signed_in(user)
    await subscribed(ws, project)

    await add_task(project, title="First")
    await add_task(project, title="Second")

    first, second = await next_frame(ws), await next_frame(ws)
    assert [(first["seq"], first["data"]["title"]), (second["seq"], second["data"]["title"])] == [
        (2, "First"),
        (3, "Second"),
    ]


async def test_live_event_frame_has_the_documented_shape(signed_in, user, project):
    ws = await signed_in(user)
    await subscribed(ws, project)

    task = await add_task(project, title="Write the launch post")

    frame = await next_frame(ws)
    assert set(frame) == {"type", "seq", "project", "event", "actor", "at", "data"}
    assert frame["type"] == "event"
    assert (frame["seq"], frame["project"], frame["event"], frame["actor"]) == (2, project.pk, "task.created", user.pk)
    assert datetime.fromisoformat(frame["at"].replace("Z", "+00:00")).tzinfo is not None
    assert (frame["data"]["id"], frame["data"]["title"]) == (task.pk, "Write the launch post")


async def test_subscribe_since_zero_replays_every_event_in_order_then_subscribed_then_live(signed_in, user, project):
    await add_task(project, title="One")
    await add_task(project, title="Two")
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=0)
    replay = [await next_frame(ws) for _ in range(3)]
    confirmation = await next_frame(ws)
    await add_task(project, title="Three")
    live = await next_frame(ws)

    assert [(frame["seq"], frame["event"]) for frame in replay] == [
        (1, "member.added"),
        (2, "task.created"),
        (3, "task.created"),
    ]
    assert confirmation == {"type": "subscribed", "project": project.pk, "seq": 3}
    assert (live["type"], live["seq"], live["data"]["title"]) == ("event", 4, "Three")


async def test_subscribe_since_n_replays_only_later_events(signed_in, user, project):
    for title in ("One", "Two", "Three"):
        await add_task(project, title=title)
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=2)
    frames = [await next_frame(ws) for _ in range(3)]

    assert [(frame["type"], frame.get("seq")) for frame in frames] == [("event", 3), ("event", 4), ("subscribed", 4)]
    assert [frame["data"]["title"] for frame in frames[:2]] == ["Two", "Three"]


async def test_subscribe_since_the_current_seq_replays_nothing(signed_in, user, project):
    await add_task(project)
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=2)

    assert await next_frame(ws) == {"type": "subscribed", "project": project.pk, "seq": 2}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_replayed_event_is_the_same_frame_as_the_live_one(signed_in, user, project):
    live_socket = await signed_in(user)
    await subscribed(live_socket, project)
    await add_task(project, title="Seen live")
    live = await next_frame(live_socket)
    replay_socket = await signed_in(user)

    await subscribe(replay_socket, project.pk, since=1)

    assert await next_frame(replay_socket) == live


async def test_subscribe_to_a_project_the_user_is_not_in_is_not_found(signed_in, user):
    stranger_project = await new_project(await new_user(), name="Not yours")
    ws = await signed_in(user)

    await subscribe(ws, stranger_project.pk, since=0)

    assert await next_frame(ws) == {"type": "error", "code": "not_found", "project": stranger_project.pk}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_subscribe_to_a_missing_project_is_not_found(signed_in, user):
    ws = await signed_in(user)

    await subscribe(ws, 987_654_321)

    assert await next_frame(ws) == {"type": "error", "code": "not_found", "project": 987_654_321}


async def test_not_found_project_sends_no_events_later(signed_in, user):
    stranger = await new_user()
    stranger_project = await new_project(stranger, name="Not yours")
    ws = await signed_in(user)
    await subscribe(ws, stranger_project.pk)
    await next_frame(ws)

    await add_task(stranger_project)

    assert await ws.receive_nothing(timeout=SILENCE)


async def test_subscribe_since_newer_than_the_current_seq_resets(signed_in, user, project):
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=5)

    assert await next_frame(ws) == {"type": "reset", "project": project.pk}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_subscribe_since_older_than_the_retained_log_resets(signed_in, user, project):
    for _ in range(3):
        await add_task(project)
    await forget_events(project, upto_seq=2)
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=0)

    assert await next_frame(ws) == {"type": "reset", "project": project.pk}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_subscribe_since_the_edge_of_the_retained_log_replays_what_is_kept(signed_in, user, project):
    for _ in range(3):
        await add_task(project)
    await forget_events(project, upto_seq=2)
    ws = await signed_in(user)

    await subscribe(ws, project.pk, since=2)
    frames = [await next_frame(ws) for _ in range(3)]

    assert [(frame["type"], frame.get("seq")) for frame in frames] == [("event", 3), ("event", 4), ("subscribed", 4)]


# --- Exactly once, in order -----------------------------------------------------------------------


async def test_events_committed_during_replay_arrive_once_each_in_order(signed_in, user, project, settings):
    # Small replay batches: the replay takes many reads, and the writes land between them.
    settings.TASKFLOW_WS_REPLAY_BATCH = 2
    for index in range(6):
        await add_task(project, title=f"Before {index}")
    ws = await signed_in(user)
    last_seq = 7 + 12

    async def write() -> None:
        for index in range(12):
            await add_task(project, title=f"During {index}")
            await asyncio.sleep(0)

    writer = asyncio.create_task(write())
    await subscribe(ws, project.pk, since=0)
    frames = await frames_until(
        ws, lambda frames: last_seq in event_seqs(frames) and any(f["type"] == "subscribed" for f in frames)
    )
    await writer

    assert event_seqs(frames) == list(range(1, last_seq + 1))
    confirmations = [(index, frame) for index, frame in enumerate(frames) if frame["type"] == "subscribed"]
    assert len(confirmations) == 1
    position, confirmation = confirmations[0]
    assert event_seqs(frames[:position]) == list(range(1, confirmation["seq"] + 1))
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_two_sockets_of_one_user_each_see_every_event_once(signed_in, user, project):
    first, second = await signed_in(user), await signed_in(user)
    await subscribed(first, project)
    await subscribed(second, project)

    for index in range(5):
        await add_task(project, title=f"Task {index}")

    for ws in (first, second):
        frames = [await next_frame(ws) for _ in range(5)]
        assert event_seqs(frames) == [2, 3, 4, 5, 6]
        assert await ws.receive_nothing(timeout=SILENCE)


async def test_new_socket_resuming_from_the_last_seen_seq_gets_the_rest_once(signed_in, user, project):
    first = await signed_in(user)
    await subscribed(first, project)
    await add_task(project)
    seen = await next_frame(first)
    await first.disconnect()
    await add_task(project)
    await add_task(project)
    second = await signed_in(user)

    await subscribe(second, project.pk, since=seen["seq"])
    frames = await frames_until(second, lambda frames: any(f["type"] == "subscribed" for f in frames))

    assert event_seqs(frames) == [3, 4]
    assert await second.receive_nothing(timeout=SILENCE)


# --- Filling gaps the channel layer left ----------------------------------------------------------


async def test_next_live_event_brings_a_lost_event_first(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 60  # the watcher stays out of it: the live event must fill the gap
    ws = await signed_in(user)
    await subscribed(ws, project)

    lost_seq = await record_event_without_publishing(project)
    await add_task(project, title="After the loss")

    lost, live = await next_frame(ws), await next_frame(ws)
    assert (lost["seq"], lost["event"], lost["data"]["name"]) == (
        lost_seq,
        "project.updated",
        "Renamed while Redis was away",
    )
    assert (live["seq"], live["data"]["title"]) == (lost_seq + 1, "After the loss")
    assert await ws.receive_nothing(timeout=SILENCE)


@sync_to_async
def logged_messages(project: Project, seqs: list[int]) -> list[dict]:
    return [event_message(event) for event in Event.objects.filter(project=project, seq__in=seqs).order_by("seq")]


async def test_events_published_out_of_order_arrive_in_order_at_every_socket(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 60
    first_socket, second_socket = await signed_in(user), await signed_in(user)
    for ws in (first_socket, second_socket):
        await subscribed(ws, project)
    earlier = await record_event_without_publishing(project)
    later = await record_event_without_publishing(project)
    earlier_message, later_message = await logged_messages(project, [earlier, later])

    # Another process's later event reaches the layer first; this one's follows within the wait.
    layer = get_channel_layer()
    await layer.group_send(project_group(project.pk), later_message)
    await asyncio.sleep(settings.TASKFLOW_WS_GAP_WAIT_SECONDS / 4)
    await layer.group_send(project_group(project.pk), earlier_message)

    for ws in (first_socket, second_socket):
        assert [(await next_frame(ws))["seq"] for _ in range(2)] == [earlier, later]
        assert await ws.receive_nothing(timeout=SILENCE)


async def test_an_event_that_never_comes_is_read_from_the_log_after_the_wait(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 60
    ws = await signed_in(user)
    await subscribed(ws, project)
    lost = await record_event_without_publishing(project)
    later = await record_event_without_publishing(project)
    [later_message] = await logged_messages(project, [later])

    await get_channel_layer().group_send(project_group(project.pk), later_message)

    assert [(await next_frame(ws))["seq"] for _ in range(2)] == [lost, later]
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_watcher_delivers_a_lost_event_without_further_traffic(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 0.2
    ws = await signed_in(user)
    await subscribed(ws, project)

    lost_seq = await record_event_without_publishing(project)

    frame = await next_frame(ws)
    assert (frame["type"], frame["seq"], frame["event"]) == ("event", lost_seq, "project.updated")


async def test_live_event_after_a_watcher_catch_up_follows_in_order(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 0.2
    ws = await signed_in(user)
    await subscribed(ws, project)
    lost_seq = await record_event_without_publishing(project)
    await next_frame(ws)

    await add_task(project, title="Live again")

    frame = await next_frame(ws)
    assert (frame["seq"], frame["data"]["title"]) == (lost_seq + 1, "Live again")
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_watcher_catches_up_every_socket_behind_on_a_project(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 0.2
    sockets_of_user = [await signed_in(user), await signed_in(user)]
    for ws in sockets_of_user:
        await subscribed(ws, project)

    first_lost = await record_event_without_publishing(project)
    second_lost = await record_event_without_publishing(project)

    for ws in sockets_of_user:
        frames = [await next_frame(ws), await next_frame(ws)]
        assert event_seqs(frames) == [first_lost, second_lost]


async def test_catch_up_brings_every_socket_up_at_once_without_waiting_an_interval(signed_in, user, project, settings):
    # What the hub runs while its channel layer loses messages (a Redis restart).
    settings.TASKFLOW_WS_CHECK_SECONDS = 60
    sockets_of_user = [await signed_in(user), await signed_in(user)]
    for ws in sockets_of_user:
        await subscribed(ws, project)
    first_lost = await record_event_without_publishing(project)
    second_lost = await record_event_without_publishing(project)

    await ProjectHub.current().catch_up()

    for ws in sockets_of_user:
        assert event_seqs([await next_frame(ws), await next_frame(ws)]) == [first_lost, second_lost]
        assert await ws.receive_nothing(timeout=SILENCE)


async def test_live_event_after_a_catch_up_is_not_held_for_the_seqs_it_brought(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 60
    settings.TASKFLOW_WS_GAP_WAIT_SECONDS = 30  # a live event held for a gap would not come in time
    ws = await signed_in(user)
    await subscribed(ws, project)
    await add_task(project, title="Before the loss")
    await next_frame(ws)
    lost = await record_event_without_publishing(project)
    await ProjectHub.current().catch_up()
    assert (await next_frame(ws))["seq"] == lost

    await add_task(project, title="Live again")

    frame = await next_frame(ws)
    assert (frame["seq"], frame["data"]["title"]) == (lost + 1, "Live again")


# --- Session: unsubscribe, ping, renewal, expiry -------------------------------------------------


async def test_unsubscribe_answers_unsubscribed(signed_in, user, project):
    ws = await signed_in(user)
    await subscribed(ws, project)

    await ws.send_json_to({"type": "unsubscribe", "project": project.pk})

    assert await next_frame(ws) == {"type": "unsubscribed", "project": project.pk}


async def test_no_events_arrive_after_unsubscribe(signed_in, user, project):
    other_project = await new_project(user, name="Still watched")
    ws = await signed_in(user)
    await subscribed(ws, project)
    await subscribed(ws, other_project)
    await ws.send_json_to({"type": "unsubscribe", "project": project.pk})
    await next_frame(ws)

    await add_task(project, title="Unwatched")
    await add_task(other_project, title="Watched")

    frame = await next_frame(ws)
    assert (frame["project"], frame["data"]["title"]) == (other_project.pk, "Watched")
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_ping_answers_pong(signed_in, user):
    ws = await signed_in(user)

    await ws.send_json_to({"type": "ping"})

    assert await next_frame(ws) == {"type": "pong"}


async def test_auth_again_with_a_new_token_of_the_same_user_answers_auth_ok(signed_in, user):
    ws = await signed_in(user)

    await ws.send_json_to({"type": "auth", "token": access_token(user)})

    assert await next_frame(ws) == auth_ok(user)


async def test_renewal_keeps_the_socket_open_past_the_first_tokens_expiry(sockets, user):
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": access_token(user, lifetime=timedelta(seconds=2))})
    await next_frame(ws)

    await ws.send_json_to({"type": "auth", "token": access_token(user)})
    assert await next_frame(ws) == auth_ok(user)

    assert await ws.receive_nothing(timeout=2.5)
    assert await pong_follows(ws)


async def test_auth_again_with_another_users_token_closes_4401(signed_in, user):
    other = await new_user()
    ws = await signed_in(user)

    await ws.send_json_to({"type": "auth", "token": access_token(other)})

    assert await close_message(ws) == closed_with(4401)


async def test_token_expiry_without_renewal_closes_4401(sockets, user):
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": access_token(user, lifetime=timedelta(seconds=2))})
    assert await next_frame(ws) == auth_ok(user)

    assert await close_message(ws, timeout=4) == closed_with(4401)


# --- Revocation -----------------------------------------------------------------------------------


async def test_removed_member_gets_revoked_and_nothing_more(signed_in, project):
    member = await new_user()
    await add_member(project, member)
    ws = await signed_in(member)
    await subscribed(ws, project)

    await remove_member(project, member)
    await add_task(project, title="After the removal")

    assert await next_frame(ws) == {"type": "revoked", "project": project.pk}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_other_members_see_the_member_removed_event(signed_in, user, project):
    member = await new_user()
    await add_member(project, member)
    ws = await signed_in(user)
    await subscribed(ws, project)

    await remove_member(project, member)

    frame = await next_frame(ws)
    assert (frame["event"], frame["data"]["user"]) == ("member.removed", member.pk)


async def test_revoked_member_cannot_subscribe_again(signed_in, project):
    member = await new_user()
    await add_member(project, member)
    ws = await signed_in(member)
    await subscribed(ws, project)
    await remove_member(project, member)
    await next_frame(ws)

    await subscribe(ws, project.pk, since=0)

    assert await next_frame(ws) == {"type": "error", "code": "not_found", "project": project.pk}


async def test_deleting_the_project_revokes_through_the_watcher(signed_in, user, project, settings):
    settings.TASKFLOW_WS_CHECK_SECONDS = 0.2
    project_id = project.pk
    ws = await signed_in(user)
    await subscribed(ws, project)

    await delete_project(project)

    assert await next_frame(ws) == {"type": "revoked", "project": project_id}
    assert await ws.receive_nothing(timeout=SILENCE)


async def test_readded_member_replays_history_through_their_own_past_removal(signed_in, project):
    member = await new_user()
    await add_member(project, member)  # seq 2
    await remove_member(project, member)  # seq 3
    await add_member(project, member)  # seq 4
    await add_task(project)  # seq 5
    ws = await signed_in(member)

    await subscribe(ws, project.pk, since=0)
    frames = await frames_until(ws, lambda frames: frames and frames[-1]["type"] in {"subscribed", "revoked"})

    assert [(frame["type"], frame.get("seq")) for frame in frames] == [
        ("event", 1),
        ("event", 2),
        ("event", 3),
        ("event", 4),
        ("event", 5),
        ("subscribed", 5),
    ]


# --- Malformed frames after auth ------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("not json", id="invalid-json"),
        pytest.param('{"type": "ping"', id="truncated-json"),
        pytest.param("[]", id="json-array"),
        pytest.param('"ping"', id="json-string"),
        pytest.param("null", id="json-null"),
        pytest.param("{}", id="no-type"),
        pytest.param('{"type": "shout"}', id="unknown-type"),
        pytest.param('{"type": ["ping"]}', id="type-is-a-list"),
        pytest.param('{"type": {"name": "ping"}}', id="type-is-an-object"),
        pytest.param('{"type": "subscribe", "project": "abc"}', id="project-is-a-string"),
        pytest.param('{"type": "subscribe", "project": true}', id="project-is-a-boolean"),
        pytest.param('{"type": "subscribe"}', id="project-missing"),
        pytest.param('{"type": "subscribe", "project": 0}', id="project-zero"),
        pytest.param('{"type": "subscribe", "project": 1.5}', id="project-is-a-float"),
        pytest.param('{"type": "subscribe", "project": 1, "since": -1}', id="since-negative"),
        pytest.param('{"type": "subscribe", "project": 1, "since": "0"}', id="since-is-a-string"),
        pytest.param('{"type": "subscribe", "project": 1, "since": false}', id="since-is-a-boolean"),
        pytest.param('{"type": "unsubscribe"}', id="unsubscribe-without-project"),
        pytest.param("[" * 50_000, id="deeply-nested-json"),
    ],
)
async def test_malformed_frame_after_auth_is_a_bad_request_and_the_socket_stays_open(signed_in, user, frame):
    ws = await signed_in(user)

    await ws.send_to(text_data=frame)

    answer = await next_frame(ws)
    assert (answer["type"], answer["code"]) == ("error", "bad_request")
    assert await pong_follows(ws)


async def test_binary_frame_after_auth_is_a_bad_request(signed_in, user):
    ws = await signed_in(user)

    await ws.send_to(bytes_data=b'{"type": "ping"}')

    answer = await next_frame(ws)
    assert (answer["type"], answer["code"]) == ("error", "bad_request")
    assert await pong_follows(ws)


# --- Limits ---------------------------------------------------------------------------------------


async def test_frame_over_64_kib_closes_1009(signed_in, user):
    ws = await signed_in(user)

    await ws.send_to(text_data="x" * (MAX_FRAME_BYTES + 1))

    assert await close_message(ws) == closed_with(1009)


async def test_frame_of_exactly_64_kib_is_accepted(signed_in, user):
    ws = await signed_in(user)
    empty = '{"type": "ping", "padding": ""}'
    frame = empty.replace('""', '"' + "x" * (MAX_FRAME_BYTES - len(empty)) + '"')

    await ws.send_to(text_data=frame)

    assert len(frame.encode()) == MAX_FRAME_BYTES
    assert await next_frame(ws) == {"type": "pong"}


async def test_frame_size_counts_bytes_not_characters(signed_in, user):
    ws = await signed_in(user)
    # 40 000 characters, 120 000 bytes in UTF-8.
    await ws.send_to(text_data='{"type": "ping", "padding": "' + "€" * 40_000 + '"}')

    assert await close_message(ws) == closed_with(1009)


async def test_flood_of_frames_closes_4429(sockets, user, settings):
    settings.TASKFLOW_WS_FRAME_RATE = 5
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": access_token(user)})
    await next_frame(ws)

    for _ in range(30):
        await ws.send_json_to({"type": "ping"})
    outputs = []
    while not outputs or outputs[-1]["type"] != "websocket.close":
        outputs.append(await ws.receive_output(FRAME_TIMEOUT))

    assert outputs[-1] == closed_with(4429)
    assert len(outputs) - 1 < 30


async def test_frames_at_the_allowed_rate_are_served(sockets, user, settings):
    settings.TASKFLOW_WS_FRAME_RATE = 20
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": access_token(user)})
    await next_frame(ws)

    for _ in range(10):
        await asyncio.sleep(0.1)
        assert await pong_follows(ws)


async def test_socket_beyond_the_per_user_limit_closes_4429_after_auth(sockets, signed_in, user, settings):
    settings.TASKFLOW_WS_MAX_SOCKETS_PER_USER = 2
    await signed_in(user)
    await signed_in(user)
    third = await sockets()

    await third.send_json_to({"type": "auth", "token": access_token(user)})

    assert await close_message(third) == closed_with(4429)


async def test_closing_a_socket_frees_its_place_for_another(signed_in, user, settings):
    settings.TASKFLOW_WS_MAX_SOCKETS_PER_USER = 1
    first = await signed_in(user)
    await first.disconnect()

    second = await signed_in(user)

    assert await pong_follows(second)


async def test_per_user_limit_does_not_count_other_users(signed_in, user, settings):
    settings.TASKFLOW_WS_MAX_SOCKETS_PER_USER = 1
    await signed_in(user)

    other = await signed_in(await new_user())

    assert await pong_follows(other)


async def test_socket_whose_outbox_overflows_is_closed_1013_so_its_client_resumes(signed_in, user, project, settings):
    settings.TASKFLOW_WS_OUTBOX_LIMIT = 3
    ws = await signed_in(user)
    await subscribed(ws, project)
    [consumer] = ProjectHub.current().subscribers[project.pk]
    already_sent = {"project": project.pk, "seq": 0, "event": "task.updated", "member": None, "text": "{}"}

    # The socket's sender is stuck (a client that stopped reading), and events keep coming.
    consumer._queue(asyncio.Event().wait)
    for _ in range(5):
        consumer.enqueue(project.pk, [already_sent], upto=0)

    assert await close_message(ws) == closed_with(1013)


async def test_jobs_queued_one_after_another_all_run_when_tasks_start_eagerly(signed_in, user, project):
    # With an eager task factory a job that never waits runs to its end inside create_task, before
    # the outbox task is even returned: the next job must still find a task to run it.
    ws = await signed_in(user)
    await subscribed(ws, project)
    [consumer] = ProjectHub.current().subscribers[project.pk]
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)
    try:
        for number in range(3):
            consumer.notify(f'{{"type": "notification", "n": {number}}}')
    finally:
        loop.set_task_factory(None)

    assert [(await ws.receive_json_from(FRAME_TIMEOUT))["n"] for _ in range(3)] == [0, 1, 2]


# --- Origin ---------------------------------------------------------------------------------------


async def test_connection_from_a_foreign_origin_is_refused():
    ws = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", b"http://evil.example")])

    connected, _ = await ws.connect()

    assert not connected
    await ws.disconnect()


async def test_connection_from_an_allowed_host_origin_is_accepted(sockets, user):
    ws = await sockets(headers=[(b"origin", b"http://localhost:8000")])

    await ws.send_json_to({"type": "auth", "token": access_token(user)})

    assert await next_frame(ws) == auth_ok(user)


async def test_connection_without_origin_is_accepted_and_must_authenticate(sockets):
    ws = await sockets(headers=[])

    await ws.send_json_to({"type": "ping"})

    assert await close_message(ws) == closed_with(4401)
