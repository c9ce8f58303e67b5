"""Filtered subscriptions: which events of a project a socket's view needs in full.

A client subscribing with `"filter": {"assignee": <id or "me">, "status": [...], "labels": [...]}`
(any subset) gets in full the events of tasks that match it before or after the change, so it sees
a task enter its view and leave it; the other events of tasks come as `skip` frames, so that every
seq is still accounted for, in order. Events about no task (the project, its members, invitations)
are not filtered: every view needs them.

What is matched is recorded with each event (`Event.task_states`, by realtime.receivers): the
task's `assignee`, `status` and `labels` before and after a change of the task, or as they are for
a comment or attachment on it. So a replay from the log is filtered exactly as the live stream.
"""

from dataclasses import dataclass

from tasks.models import Status

# The most values a filter may list, per field.
FILTER_VALUES_MAX = 50


def task_state(*, assignee: int | None, status: str, labels: list[str]) -> dict:
    """What a filter looks at of a task."""
    return {"assignee": assignee, "status": status, "labels": list(labels)}


def task_states(*, before: dict | None, after: dict | None) -> list[dict]:
    """The states of a task change from its payloads before and after (None: created, deleted)."""
    return [
        task_state(assignee=payload["assignee"], status=payload["status"], labels=payload["labels"])
        for payload in (before, after)
        if payload is not None
    ]


@dataclass(frozen=True)
class SubscriptionFilter:
    """A subscription's filter: every field given must match (a label matches if the task has any
    of those listed)."""

    assignee: int | None = None
    statuses: frozenset[str] | None = None
    labels: frozenset[str] | None = None

    def wants(self, states: list[dict] | None) -> bool:
        """Whether an event with these task states comes in full (None: an event about no task)."""
        return states is None or any(self._matches(state) for state in states)

    def _matches(self, state: dict) -> bool:
        return (
            (self.assignee is None or state["assignee"] == self.assignee)
            and (self.statuses is None or state["status"] in self.statuses)
            and (self.labels is None or not self.labels.isdisjoint(state["labels"]))
        )


def subscription_filter(raw, *, user_id: int) -> SubscriptionFilter:
    """The filter of a subscribe frame's `filter` (`"me"` is the caller); ValueError saying what is
    wrong with it."""
    if not isinstance(raw, dict) or not raw.keys() <= {"assignee", "status", "labels"}:
        raise ValueError("`filter` is an object with any of `assignee`, `status` and `labels`.")
    assignee = raw.get("assignee")
    if assignee == "me":
        assignee = user_id
    elif assignee is not None and not (isinstance(assignee, int) and not isinstance(assignee, bool) and assignee > 0):
        raise ValueError('`filter.assignee` is a user id or "me".')
    return SubscriptionFilter(
        assignee=assignee,
        statuses=_values(raw, "status", allowed=frozenset(Status.values)),
        labels=_values(raw, "labels"),
    )


def _values(raw: dict, name: str, *, allowed: frozenset[str] | None = None) -> frozenset[str] | None:
    if name not in raw:
        return None
    values = raw[name]
    if (
        not isinstance(values, list)
        or not 0 < len(values) <= FILTER_VALUES_MAX
        or not all(isinstance(value, str) and 0 < len(value) <= 100 for value in values)
    ):
        raise ValueError(f"`filter.{name}` is a list of 1 to {FILTER_VALUES_MAX} strings.")
    if allowed is not None and not set(values) <= allowed:
        raise ValueError(f"`filter.{name}` lists only {', '.join(sorted(allowed))}.")
    return frozenset(values)
