"""The frames of the WebSocket protocol at /ws/ (docs/realtime.md): one TypedDict per frame shape.

They are the one description of the protocol the AsyncAPI document (realtime.asyncapi, served at
/api/asyncapi/) is generated from: each TypedDict's docstring says what the frame is for, its
annotations give its fields (`NotRequired` for optional ones; `Annotated[..., {...}]` adds JSON
Schema keywords such as a format or a bound). A test checks that what the consumer really sends
matches them. TypedDicts are plain dicts, so building a frame through one costs nothing.

Two frames carry shapes described elsewhere, which the document takes from the OpenAPI schema so
that both documents say the same: the `data` of an `event` is its type's payload (the event
catalogue, realtime.catalogue), and a `notification` is the notification as the REST API lists
it (the `Notification` component).
"""

from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired, TypedDict

from tasks.models import Status

ProjectId = Annotated[int, {"minimum": 1, "maximum": 2**63 - 1, "description": "A project's id."}]
TaskId = Annotated[int, {"minimum": 1, "maximum": 2**63 - 1, "description": "A task's id."}]
UserId = Annotated[int, {"minimum": 1, "description": "A user's id."}]
Seq = Annotated[int, {"minimum": 0, "maximum": 2**63 - 1, "description": "A seq of the project's event log."}]
DateTime = Annotated[str, {"format": "date-time"}]

# --- Client to server -------------------------------------------------------------------------------


class AuthFrame(TypedDict):
    """Authenticate: the first frame, within 10 seconds of connecting, or later to renew the session
    with a new token (the socket then lasts as long as that token). Answered by `auth.ok`; a bad
    token closes the socket with 4401."""

    type: Literal["auth"]
    token: Annotated[
        str, {"description": "An access token (JWT), or a personal access token (`tfp_...`). Never in the URL."}
    ]


class SubscribeFilter(TypedDict, total=False):
    """Which tasks' events come in full (any subset of the fields, each given must match): those of
    tasks that match the filter before or after the change. Every other seq of a task's event is
    accounted for by `skip`; events about no task (the project, members, invitations) all come."""

    assignee: Annotated[UserId | Literal["me"], {"description": "The assignee's user id, or `me` for the caller."}]
    status: Annotated[list[Status], {"minItems": 1, "maxItems": 50, "description": "Any of these statuses."}]
    labels: Annotated[
        list[Annotated[str, {"minLength": 1, "maxLength": 100}]],
        {"minItems": 1, "maxItems": 50, "description": "Tasks with any of these labels."},
    ]


class SubscribeFrame(TypedDict):
    """Follow a project: the events after `since` from the log, in order, then `subscribed` with the
    latest seq, then live events. Without `since`, no replay. Subscribing again replaces the
    subscription (and its filter)."""

    type: Literal["subscribe"]
    project: ProjectId
    since: NotRequired[Seq]
    filter: NotRequired[SubscribeFilter]


class UnsubscribeFrame(TypedDict):
    """Stop following a project. Answered by `unsubscribed`."""

    type: Literal["unsubscribe"]
    project: ProjectId


class PingFrame(TypedDict):
    """Check that the socket is alive. Answered by `pong`."""

    type: Literal["ping"]


class PresenceUpdateFrame(TypedDict):
    """Tell the other subscribers of a project (subscribed projects only) what you are looking at:
    a task, or the project itself (null). A socket that closes, unsubscribes or sends nothing for
    60 seconds leaves."""

    type: Literal["presence"]
    project: ProjectId
    task: TaskId | None


# --- Server to client -------------------------------------------------------------------------------


class AuthOkUser(TypedDict):
    """The user the socket is signed in as."""

    id: UserId
    username: str


class AuthOkFrame(TypedDict):
    """The token was accepted: the socket is signed in, and its user's notifications come to it."""

    type: Literal["auth.ok"]
    user: AuthOkUser


class SubscribedFrame(TypedDict):
    """The subscription is live: the replay (if `since` was given) is complete up to `seq`, the
    project's latest seq when the subscription started; live events follow."""

    type: Literal["subscribed"]
    project: ProjectId
    seq: Seq


class UnsubscribedFrame(TypedDict):
    """The subscription has ended: nothing more comes for the project."""

    type: Literal["unsubscribed"]
    project: ProjectId


class PongFrame(TypedDict):
    """The answer to `ping`."""

    type: Literal["pong"]


class EventFrame(TypedDict):
    """One event of a subscribed project, in seq order: the event as the changes feed lists it, with
    its type under `event`. Per project every seq arrives exactly once, as an event or in a `skip`."""

    type: Literal["event"]
    seq: Annotated[int, {"minimum": 1, "description": "The event's number in its project's log: 1, 2, 3, ..."}]
    project: ProjectId
    event: Annotated[str, {"description": "The event's type (docs/events.md)."}]
    actor: Annotated[int | None, {"description": "The user who made the change, if any."}]
    at: Annotated[str, {"format": "date-time", "description": "When the change was committed, in UTC."}]
    data: Annotated[dict, {"description": "The event type's payload."}]


# `from` is a Python keyword: the frame is declared the functional way.
SkipFrame = TypedDict(
    "SkipFrame",
    {
        "type": Literal["skip"],
        "project": ProjectId,
        "from": Annotated[int, {"minimum": 1, "description": "The first seq skipped."}],
        "to": Annotated[int, {"minimum": 1, "description": "The last seq skipped (`from` when only one)."}],
    },
)
SkipFrame.__doc__ = """Consecutive seqs of a filtered subscription that are not sent, because their
events are about tasks that match the filter neither before nor after the change."""


class ResetFrame(TypedDict):
    """`since` is newer than the project's latest seq, or older than the retained log: the
    subscription has ended. Reload the project over REST, then subscribe again from its seq."""

    type: Literal["reset"]
    project: ProjectId


class RevokedFrame(TypedDict):
    """You were removed from the project, or it was deleted: the subscription has ended and nothing
    more comes for it."""

    type: Literal["revoked"]
    project: ProjectId


class NotFoundErrorFrame(TypedDict):
    """No such project, or you are not a member of it: the two are never told apart."""

    type: Literal["error"]
    code: Literal["not_found"]
    project: ProjectId


class BadRequestErrorFrame(TypedDict):
    """A frame was not understood (not JSON, an unknown type, a bad field); the socket stays open."""

    type: Literal["error"]
    code: Literal["bad_request"]
    detail: Annotated[str, {"description": "What was wrong with it."}]


class NotificationFrame(TypedDict):
    """A personal notification, on every socket signed in as its user, subscribed or not: `type`,
    then the notification's fields exactly as `GET /api/notifications/` lists it. Not replayed."""

    type: Literal["notification"]
    id: int
    kind: str
    project: int
    task: int | None
    actor: int | None
    at: DateTime
    read_at: DateTime | None
    data: dict


class PresenceViewer(TypedDict):
    """Someone looking at the project: at one of its tasks, or at the project itself (null)."""

    user: UserId
    username: str
    task: TaskId | None


class PresenceFrame(TypedDict):
    """Who is looking at a subscribed project now, on every server process; sent to each
    subscriber within a second of a change. Presence is not in the event log and has no seq."""

    type: Literal["presence"]
    project: ProjectId
    viewers: list[PresenceViewer]


@dataclass(frozen=True)
class ClientFrame:
    """A frame the client sends, and the frames that answer it."""

    shape: type
    answers: tuple[type, ...]


CLIENT_FRAMES: tuple[ClientFrame, ...] = (
    ClientFrame(AuthFrame, answers=(AuthOkFrame,)),
    ClientFrame(
        SubscribeFrame,
        answers=(EventFrame, SkipFrame, SubscribedFrame, NotFoundErrorFrame, ResetFrame, BadRequestErrorFrame),
    ),
    ClientFrame(UnsubscribeFrame, answers=(UnsubscribedFrame, BadRequestErrorFrame)),
    ClientFrame(PingFrame, answers=(PongFrame,)),
    ClientFrame(PresenceUpdateFrame, answers=(PresenceFrame, BadRequestErrorFrame)),
)

SERVER_FRAMES: tuple[type, ...] = (
    AuthOkFrame,
    SubscribedFrame,
    UnsubscribedFrame,
    PongFrame,
    EventFrame,
    SkipFrame,
    ResetFrame,
    RevokedFrame,
    NotFoundErrorFrame,
    BadRequestErrorFrame,
    NotificationFrame,
    PresenceFrame,
)


@dataclass(frozen=True)
class CloseCode:
    """A code the server closes a socket with, why, and what the client does then."""

    code: int
    reason: str
    then: str


CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(
        4401,
        "a bad or expired token, a frame other than `auth` first, the token expired without renewal, its personal "
        "access token was revoked or expired, or the user's password changed",
        "get a new access token (refresh), reconnect and resume",
    ),
    CloseCode(4408, "no `auth` frame within 10 seconds", "reconnect and authenticate at once"),
    CloseCode(
        4429,
        "more than `TASKFLOW_WS_FRAME_RATE` (50) frames a second sustained, or more than "
        "`TASKFLOW_WS_MAX_SOCKETS_PER_USER` (20) sockets of one user on one server",
        "back off, then reconnect",
    ),
    CloseCode(1009, "a frame (or a fragmented message) over 64 KiB", "send smaller frames"),
    CloseCode(
        1012,
        "the server is restarting (a deploy, a scale-down)",
        "reconnect at once (another server takes it) and resume from the last seq applied",
    ),
    CloseCode(
        1013,
        "the socket could not keep up: more than `TASKFLOW_WS_OUTBOX_LIMIT` (1000) events were waiting for it",
        "reconnect and resume from the last seq applied",
    ),
)
