"""The tasks app's domain signals: every write to a project, a member or a task sends one.

tasks.services sends them inside the writer's transaction, once the row is written, whatever
wrote it (an ORM save, a hand-written UPDATE, a delete). Their receivers run in that same
transaction: realtime records the event (and publishes it after the commit), notifications keeps
the task's reminder in step. Nothing here knows who listens: the tasks app never imports them.

Every signal is sent with keyword arguments:
- `actor`: the user who made the change (None for the system);
- `change`: what happened (Change);
- `payload`: the object after the change, as tasks.payloads shapes it (for a removal: as it was,
  or at least its `id`);
- and the object itself: `task`, `project` or `membership`. task_changed also sends `fields`, the
  model attributes that changed (all of them on creation, none on deletion).
"""

from django.db import models
from django.dispatch import Signal


class Change(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


# sender=Task; task, actor, change, fields, payload (TaskPayload, or TaskDeletedPayload).
task_changed = Signal()
# sender=Project; project, actor, change (only UPDATED: a new project's first change is its
# owner's membership, and a deleted one takes its event log with it), payload (ProjectPayload).
project_changed = Signal()
# sender=Membership; membership, actor, change (CREATED: added, UPDATED: new role, DELETED:
# removed), payload (MemberPayload).
member_changed = Signal()
