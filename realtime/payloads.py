"""The shapes in which the activity history leaves TaskFlow: one typed payload per shape."""

from typing import TypedDict

from realtime.models import Activity
from taskflow.times import datetime_text


class ActivityPayload(TypedDict):
    """An entry of `GET /api/tasks/{id}/activity/` and `GET /api/projects/{id}/activity/`."""

    id: int
    project: int
    task: int | None
    actor: int | None
    at: str
    kind: str
    changes: dict[str, list]


def activity_payload(entry: Activity) -> ActivityPayload:
    return {
        "id": entry.pk,
        "project": entry.project_id,
        "task": entry.task_id,
        "actor": entry.actor_id,
        "at": datetime_text(entry.at),
        "kind": entry.kind,
        "changes": entry.changes,
    }
