"""The tasks app's domain signals: every write to a project, a member, a task or an invitation sends one.

tasks.services sends them inside the writer's transaction, once the row is written, whatever
wrote it (an ORM save, a hand-written UPDATE, a delete). Their receivers run in that same
transaction: realtime records the event (and publishes it after the commit), notifications keeps
the task's reminder in step. Nothing here knows who listens: the tasks app never imports them.

Every signal is sent with keyword arguments:
- `actor`: the user who made the change (None for the system);
- `change`: what happened (Change);
- `payload`: the object after the change, as tasks.payloads shapes it (for a removal: as it was,
  or at least its `id`);
- `previous`: the object before the change, in the same shape as an update's payload (None on
  creation): realtime's activity history keeps the fields whose value changed;
- and the object itself: `task`, `project`, `membership` or `invitation`. task_changed also sends
  `fields`, the model attributes that changed (all of them on creation, none on deletion).

A deletion (Change.DELETED of a task or a project) is sent just before the row is deleted, so
that receivers can still read what goes with it (an attachment's stored file); every other change
once the row is written.
"""

from django.db import models
from django.dispatch import Signal


class Change(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


# sender=Task; task, actor, change, fields, payload (TaskPayload, or TaskDeletedPayload), previous.
task_changed = Signal()
# sender=Project; project, actor, change (UPDATED, or DELETED: a new project's first change is
# its owner's membership, and a deleted one takes its event log with it, so it records no event),
# payload (ProjectPayload), previous.
project_changed = Signal()
# sender=Membership; membership, actor, change (CREATED: added, UPDATED: new role, DELETED:
# removed), payload (MemberPayload), previous.
member_changed = Signal()
# sender=Invitation; invitation, actor, change (CREATED: sent, DELETED: revoked; an acceptance is
# recorded as the new member's `member.added`), payload (InvitationPayload, never the token), previous.
invitation_changed = Signal()
