"""Receivers of the domain signals: every change is recorded as an event, and in the activity history;
a revoked personal access token closes its sockets.

They run inside the writer's transaction (the services send the signals there), so an event and
its history entry exist exactly when their change is committed; realtime.events publishes the
event after the commit. Which event type records which change, and which types the history keeps,
is the catalogue's (realtime.catalogue).
"""

from functools import partial

from django.db import transaction

from accounts.signals import personal_token_revoked, user_sessions_ended
from attachments.signals import attachment_changed
from comments.signals import comment_changed
from realtime.activity import activity_append, activity_changes
from realtime.catalogue import event_kind_of
from realtime.events import event_append, user_token_revoked
from realtime.subscriptions import task_state, task_states
from tasks.signals import Change, invitation_changed, member_changed, project_changed, task_changed


def _of_task_change(signal_kwargs: dict) -> list[dict]:
    change, payload, previous = signal_kwargs["change"], signal_kwargs["payload"], signal_kwargs["previous"]
    return task_states(before=previous, after=None if change == Change.DELETED else payload)


def _of_task_it_is_on(signal_kwargs: dict) -> list[dict]:
    task = signal_kwargs["task"]
    return [task_state(assignee=task.assignee_id, status=task.status, labels=task.labels)]


def _of_no_task(signal_kwargs: dict) -> None:
    return None


# Each domain signal, the keyword its object comes as, the project and task that object is of, and
# the task states filtered subscriptions match its events by (realtime.subscriptions).
SOURCES = (
    (task_changed, "task", lambda task: (task.project_id, task.pk), _of_task_change),
    (project_changed, "project", lambda project: (project.pk, None), _of_no_task),
    (member_changed, "membership", lambda membership: (membership.project_id, None), _of_no_task),
    (comment_changed, "comment", lambda comment: (comment.project_id, comment.task_id), _of_task_it_is_on),
    (
        attachment_changed,
        "attachment",
        lambda attachment: (attachment.project_id, attachment.task_id),
        _of_task_it_is_on,
    ),
    (invitation_changed, "invitation", lambda invitation: (invitation.project_id, None), _of_no_task),
)

# A deleted project takes its event log and its history with it: its deletion is recorded nowhere.
NOT_RECORDED = frozenset({(project_changed, Change.DELETED)})


def _receiver(signal, keyword: str, place, states):
    """The receiver of `signal`: the change as an event of the catalogue's type, and as a history
    entry when the catalogue keeps that type in the history."""

    def record(sender, *, change, payload, previous, actor, **kwargs) -> None:
        if (signal, change) in NOT_RECORDED:
            return
        kind = event_kind_of(signal, change)
        project_id, task_id = place(kwargs[keyword])
        event = event_append(
            project_id=project_id,
            event_type=kind.type,
            data=payload,
            actor_id=actor.pk if actor is not None else None,
            task_states=states({"change": change, "payload": payload, "previous": previous, **kwargs}),
        )
        if kind.history:
            changes = activity_changes(change=change, payload=payload, previous=previous)
            activity_append(event=event, task_id=task_id, changes=changes)

    return record


# Held here (signals keep weak references to receivers), one per source.
RECEIVERS = [_receiver(signal, keyword, place, states) for signal, keyword, place, states in SOURCES]
for (signal, keyword, _, _), receiver in zip(SOURCES, RECEIVERS, strict=True):
    signal.connect(receiver, dispatch_uid=f"realtime.{keyword}_changed")


def token_sockets_close(sender, *, token, user_id, **kwargs) -> None:
    transaction.on_commit(partial(user_token_revoked, user_id=user_id, token_id=token.pk), robust=True)


personal_token_revoked.connect(token_sockets_close, dispatch_uid="realtime.personal_token_revoked")


def session_sockets_close(sender, *, user_id, **kwargs) -> None:
    transaction.on_commit(partial(user_token_revoked, user_id=user_id, token_id=None), robust=True)


user_sessions_ended.connect(session_sockets_close, dispatch_uid="realtime.user_sessions_ended")
