"""Writes to projects, members, tasks and invitations: one function per use case, each one transaction.

Permission rules live here. Objects come from the selectors, scoped to the actor and annotated with
the actor's `role` in the project. Operators (the admin, `manage.py` commands) pass
`operator=True`: Django's admin permissions authorise them, not project roles.

Every write sends its domain signal (tasks.signals) inside its transaction, once the row is
written, whoever listens: realtime records the event, notifications keeps the task's reminder in
step. This app never imports them; a write that sends no signal is recorded nowhere, so every write
to projects, members, tasks and invitations is here.
"""

import hashlib
import secrets
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from taskflow.db.rows import fetch_instance, sql, update_instance
from taskflow.errors import AccessDenied, InvalidInput, NotFound, VersionConflict, VersionMismatch
from tasks.event_counter import event_counter_held, event_counter_lock
from tasks.mail import invitation_email_send
from tasks.models import (
    CHECKLIST_ITEMS_MAX,
    INVITABLE_ROLES,
    PROJECT_EDITORS,
    TASK_WRITERS,
    Invitation,
    Membership,
    Project,
    Role,
    Status,
    Task,
    TaskLabel,
)
from tasks.payloads import invitation_payload, member_payload, project_payload, task_deleted_payload, task_payload
from tasks.signals import Change, invitation_changed, member_changed, project_changed, task_changed

TASK_EDITABLE_FIELDS = (
    "title",
    "description",
    "status",
    "priority",
    "assignee",
    "due_at",
    "labels",
    "position",
    "parent",
    "checklist",
)
# What a task creation changes: every field a client sees.
_TASK_CREATED_FIELDS = frozenset(field.attname for field in Task._meta.concrete_fields)


@contextmanager
def _change_by(actor: User | None, *, project_id: int | None = None) -> Iterator[None]:
    """One transaction for a write of `actor`'s.

    Writers take their locks in one order, so that concurrent ones queue instead of deadlocking:
    the task rows they change, then the project's event counter (realtime.events), then the rest.
    Without `project_id` the first event takes the counter, which is then held until the commit:
    the shortest hold, for writers that lock only task rows before it. With `project_id` the
    counter is taken at once: for writers that insert rows of the project (each insert takes a
    shared lock on the project row, and two inserters upgrading theirs would deadlock) or lock
    other rows of it (members).
    """
    with transaction.atomic():
        if project_id is None:
            yield
        else:
            with event_counter_held(project_id):
                yield


def require_own_or_editor(obj, *, owner_id: int | None, actor: User, operator: bool, what: str) -> None:
    """403 unless the actor may remove `obj` (read with the actor's `role`), which `owner_id` made:
    their own while they may write in the project, anyone's for an admin or the owner."""
    if owner_id is not None and owner_id == actor.pk:
        require_role(obj, TASK_WRITERS, operator=operator, action=f"remove {what}")
    else:
        require_role(obj, PROJECT_EDITORS, operator=operator, action=f"remove other people's {what}")


def task_row_lock(*, task_id: int) -> Task:
    """Lock a task's row for a write to something of the task's own (a comment, an attachment):
    the first lock of the lock order, before the project's event counter. 404 if the task is gone."""
    locked = _tasks_lock(Task.objects.filter(pk=task_id))
    if not locked:
        raise NotFound()
    return locked[0]


def _tasks_lock(tasks: QuerySet[Task]) -> list[Task]:
    """Lock these tasks' rows in one statement, in id order; for writers that change several."""
    return list(tasks.select_for_update().order_by("pk"))


def require_role(obj, allowed: Iterable[str], *, operator: bool, action: str) -> None:
    """403 unless `obj` (a project, a task, or anything else read with the actor's `role` in its
    project) says the actor's role is one of `allowed`; operators may do anything."""
    if operator:
        return
    if getattr(obj, "role", None) not in allowed:
        raise AccessDenied(f"Your role in this project does not allow you to {action}.")


# --- Projects -------------------------------------------------------------------------------------


def project_create(*, actor: User, name: str, description: str = "", owner: User | None = None) -> Project:
    """Create a project owned by `owner` (the actor by default), its first member (`member.added`)."""
    owner = owner or actor
    with _change_by(actor):
        project = Project.objects.create(name=name, description=description, owner=owner)
        membership = Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        _member_changed(membership, actor=actor, change=Change.CREATED)
    return project


def project_update(*, project: Project, actor: User, data: dict, operator: bool = False) -> Project:
    """Change a project's name or description; owners and admins only."""
    require_role(project, PROJECT_EDITORS, operator=operator, action="edit the project")
    fields = [name for name in ("name", "description") if name in data and data[name] != getattr(project, name)]
    if not fields:
        return project
    with _change_by(actor, project_id=project.pk):
        previous = project_payload(project)
        for name in fields:
            setattr(project, name, data[name])
        project.save(update_fields=[*fields, "updated_at"])
        project_changed.send(
            sender=Project,
            project=project,
            actor=actor,
            change=Change.UPDATED,
            payload=project_payload(project),
            previous=previous,
        )
    return project


def project_delete(*, project: Project, actor: User, operator: bool = False) -> None:
    """Delete a project with its members, tasks and event log; the owner only."""
    require_role(project, {Role.OWNER}, operator=operator, action="delete the project")
    with _change_by(actor):
        # The lock order, before the cascade deletes the tasks (and with them, the event log).
        _tasks_lock(Task.objects.filter(project=project))
        event_counter_lock(project.pk)
        payload = project_payload(project)
        # Before the cascade, so that receivers can still read what goes with the project.
        project_changed.send(
            sender=Project, project=project, actor=actor, change=Change.DELETED, payload=payload, previous=payload
        )
        project.delete()


# --- Members --------------------------------------------------------------------------------------


def _user_by_reference(reference: str | int) -> User:
    """A user by id (digits) or username; 400 on the `user` field when there is none."""
    text = str(reference).strip()
    users = User.objects.filter(is_active=True)
    try:
        if text.isascii() and text.isdigit():
            return users.get(pk=int(text))
        return users.get(username=text)
    except (User.DoesNotExist, OverflowError):
        raise InvalidInput("No active user with this id or username.", field="user") from None


def _require_member_manager(project: Project, roles: Iterable[str], *, operator: bool) -> None:
    """Admins manage members and viewers; only the owner manages admins."""
    require_role(project, PROJECT_EDITORS, operator=operator, action="manage members")
    if Role.ADMIN in roles:
        require_role(project, {Role.OWNER}, operator=operator, action="manage admins")


def member_add(
    *, project: Project, actor: User, user: str | int, role: str = Role.MEMBER, operator: bool = False
) -> Membership:
    """Add a user to a project with a role other than owner."""
    _require_member_manager(project, {role}, operator=operator)
    if role == Role.OWNER:
        raise InvalidInput("A project has exactly one owner.", field="role")
    new_member = _user_by_reference(user)
    with _change_by(actor, project_id=project.pk):
        if Membership.objects.filter(project=project, user=new_member).exists():
            raise InvalidInput("This user is already a member of the project.", field="user")
        membership = Membership.objects.create(project=project, user=new_member, role=role)
        _member_changed(membership, actor=actor, change=Change.CREATED)
    return membership


def member_change_role(
    *, project: Project, actor: User, membership: Membership, role: str | None, operator: bool = False
) -> Membership:
    """Change a member's role; the owner's role and ownership itself do not change here.

    Without a `role` nothing changes, once the actor is found allowed to manage this member.
    """
    if membership.role == Role.OWNER or role == Role.OWNER:
        require_role(project, PROJECT_EDITORS, operator=operator, action="manage members")
        if role is None:
            return membership
        raise InvalidInput("A project has exactly one owner; the owner's role cannot change.", field="role")
    role = role or membership.role
    _require_member_manager(project, {membership.role, role}, operator=operator)
    if membership.role == role:
        return membership
    with _change_by(actor, project_id=project.pk):
        previous = member_payload(membership)
        membership.role = role
        membership.save(update_fields=["role"])
        _member_changed(membership, actor=actor, change=Change.UPDATED, previous=previous)
    return membership


def member_remove(*, project: Project, actor: User | None, membership: Membership, operator: bool = False) -> None:
    """Remove a member (anyone but the owner may also leave); their tasks here become unassigned.

    `actor` is None for the system (an account deleted without accounts.services), with `operator`.
    """
    if membership.role == Role.OWNER:
        raise InvalidInput("The owner cannot be removed; delete the project or keep it.")
    if actor is None or membership.user_id != actor.pk:
        _require_member_manager(project, {membership.role}, operator=operator)
    with _change_by(actor):
        assigned = _tasks_lock(Task.objects.filter(project=project, assignee_id=membership.user_id))
        with event_counter_held(project.pk):
            # One save per task, so each unassignment is recorded as an event.
            for task in assigned:
                _task_apply(task=task, actor=actor, changes={"assignee": None})
            previous = member_payload(membership)
            membership.delete()
            _member_changed(membership, actor=actor, change=Change.DELETED, previous=previous)


def _member_changed(membership: Membership, *, actor: User | None, change: Change, previous=None) -> None:
    member_changed.send(
        sender=Membership,
        membership=membership,
        actor=actor,
        change=change,
        payload=member_payload(membership),
        previous=previous,
    )


# --- Tasks ----------------------------------------------------------------------------------------


def _validate_assignee(project_id: int, assignee_id: int | None) -> None:
    if assignee_id is not None and not Membership.objects.filter(project_id=project_id, user_id=assignee_id).exists():
        raise InvalidInput("The assignee must be a member of the project.", field="assignee")


def _parent_check(*, project_id: int, parent_id: int, task: Task | None) -> None:
    """A parent for `task` (None: a new task) must be another task of the project, not a subtask
    itself, and `task` must have no subtasks: subtasks are one level deep. The caller holds the
    row locks of both tasks, so that two writers cannot each make the other's task a subtask."""
    if task is not None and parent_id == task.pk:
        raise InvalidInput("A task cannot be its own parent.", field="parent")
    grandparent = list(Task.objects.filter(pk=parent_id, project_id=project_id).values_list("parent_id", flat=True))
    if not grandparent:
        raise InvalidInput("The parent must be a task of the same project.", field="parent")
    if grandparent[0] is not None:
        raise InvalidInput("The parent is a subtask itself: subtasks are one level deep.", field="parent")
    if task is not None and Task.objects.filter(parent_id=task.pk).exists():
        raise InvalidInput("A task with subtasks cannot become a subtask.", field="parent")


def _checklist_numbered(task: Task, items: list[dict]) -> tuple[list[dict], int]:
    """The checklist `items` as stored, and the task's last item id after them.

    An item with an `id` is that item of the task's current checklist (400 if it has none such);
    one without is new and gets the task's next id. Items left out are removed.
    """
    if len(items) > CHECKLIST_ITEMS_MAX:
        raise InvalidInput(f"A checklist has at most {CHECKLIST_ITEMS_MAX} items.", field="checklist")
    existing = {item["id"] for item in task.checklist}
    last_id = task.checklist_last_id
    numbered = []
    for item in items:
        item_id = item.get("id")
        if item_id is None:
            last_id += 1
            item_id = last_id
        elif item_id not in existing:
            raise InvalidInput(f"The task has no checklist item {item_id}.", field="checklist")
        numbered.append({"id": item_id, "text": item["text"], "done": bool(item.get("done", False))})
    return numbered, last_id


def _label_index_replace(task: Task, *, created: bool) -> None:
    if not created:
        TaskLabel.objects.filter(task=task).delete()
    TaskLabel.objects.bulk_create([TaskLabel(task=task, name=name) for name in task.labels])


def task_create(*, project: Project, actor: User, data: dict, operator: bool = False) -> Task:
    """Create a task in `project`; owners, admins and members may. New tasks go to the end."""
    require_role(project, TASK_WRITERS, operator=operator, action="create tasks")
    values = {name: data[name] for name in TASK_EDITABLE_FIELDS if name in data}
    assignee_id = values.pop("assignee", None)
    parent_id = values.pop("parent", None)
    _validate_assignee(project.pk, assignee_id)
    try:
        with _change_by(actor):
            if parent_id is not None:
                # The parent's row lock comes first (the lock order), then the event counter.
                _tasks_lock(Task.objects.filter(pk=parent_id))
                _parent_check(project_id=project.pk, parent_id=parent_id, task=None)
            with event_counter_held(project.pk):
                return _task_insert(
                    project=project, actor=actor, assignee_id=assignee_id, parent_id=parent_id, values=values
                )
    except Project.DoesNotExist:
        # Deleted since it was read (taking its counter found no row): for the caller, a project
        # that does not exist, which is a 400 on `project` in a create, as for any other.
        raise InvalidInput(f'Invalid pk "{project.pk}" - object does not exist.', field="project") from None


def _task_insert(
    *, project: Project, actor: User, assignee_id: int | None, parent_id: int | None, values: dict
) -> Task:
    if "position" not in values:
        last = Task.objects.filter(project=project).aggregate(last=Max("position"))["last"]
        values["position"] = 0 if last is None else last + 1
    # The checklist is numbered against the new task's empty one, not set from the input as given.
    checklist = values.pop("checklist", None)
    task = Task(project=project, created_by=actor, assignee_id=assignee_id, parent_id=parent_id, **values)
    if checklist is not None:
        task.checklist, task.checklist_last_id = _checklist_numbered(task, checklist)
    if task.status == Status.DONE:
        task.completed_at = timezone.now()
    task.save()
    if task.labels:
        _label_index_replace(task, created=True)
    task_changed.send(
        sender=Task,
        task=task,
        actor=actor,
        change=Change.CREATED,
        fields=_TASK_CREATED_FIELDS,
        payload=task_payload(task),
        previous=None,
    )
    return task


def task_update(
    *,
    task: Task,
    actor: User,
    data: dict,
    expected_version: int | None = None,
    operator: bool = False,
    merge: bool = False,
) -> Task:
    """Change a task; with `expected_version` (from If-Match) only if nobody changed it meanwhile.

    `task` is the task as read (`data` is compared with its fields). Raises VersionMismatch
    carrying the current task when the version moved on. Returns the task as changed: `task`
    itself (changed in place) when nobody changed it since it was read, which the update checks by
    the version in the same statement; otherwise the row as it is now, with the change applied.
    A change of `parent` or `checklist` is checked against the current row, so it locks the row
    (with the new parent's, in id order) before anything else.

    With `merge` (a PATCH's `Prefer: merge`), a stale `expected_version` is no conflict unless a
    field of `data` changed after it (`Task.field_versions`): the change then goes on top of the
    current task. Otherwise it raises VersionConflict naming those fields. The check is made on
    the row that the update writes: the task as read when the UPDATE finds its version unchanged,
    else the row locked.
    """
    require_role(task, TASK_WRITERS, operator=operator, action="edit tasks")
    changes = {name: data[name] for name in TASK_EDITABLE_FIELDS if name in data}
    merging = changes.keys() if merge else None
    with _change_by(actor):
        if "assignee" in changes:
            _validate_assignee(task.project_id, changes["assignee"])
        current = task
        if "parent" in changes or "checklist" in changes:
            parent_id = changes.get("parent")
            _tasks_lock(Task.objects.filter(pk__in=[task.pk] if parent_id is None else [task.pk, parent_id]))
            current = _task_lock(task, expected_version=expected_version, merging=merging)
            if parent_id is not None and parent_id != current.parent_id:
                _parent_check(project_id=current.project_id, parent_id=parent_id, task=current)
            _task_apply(task=current, actor=actor, changes=changes)
            return current
        stale = expected_version is not None and expected_version != task.version
        # A merge that the row as read allows goes on: the UPDATE below checks that the row is
        # still that one. Anything else stale is decided on the row locked: 412 unless it was
        # since (or, merging, unless the row as it is now allows the merge).
        merges_as_read = (
            stale
            and merging is not None
            and _merge_conflicts(task, expected_version=expected_version, fields=merging) == []
        )
        if stale and not merges_as_read:
            current = _task_lock(task, expected_version=expected_version, merging=merging)
        if not _task_apply(task=current, actor=actor, changes=changes, if_unchanged=True):
            current = _task_lock(task, expected_version=expected_version, merging=merging)
            _task_apply(task=current, actor=actor, changes=changes)
    return current


def task_delete(*, task: Task, actor: User, expected_version: int | None = None, operator: bool = False) -> None:
    """Delete a task, with the same version check as `task_update`; its subtasks go first, each
    recorded as a deletion of its own."""
    require_role(task, TASK_WRITERS, operator=operator, action="delete tasks")
    with _change_by(actor):
        # The task and its subtasks, locked in id order: no subtask can be added meanwhile (a
        # writer giving a task this parent locks the parent first).
        subtasks = [
            locked
            for locked in _tasks_lock(Task.objects.filter(Q(pk=task.pk) | Q(parent_id=task.pk)))
            if locked.pk != task.pk
        ]
        current = _task_lock(task, expected_version=expected_version)
        for subtask in subtasks:
            _task_remove(subtask, actor=actor)
        _task_remove(current, actor=actor)


def _task_remove(task: Task, *, actor: User | None) -> None:
    """Delete one locked task (with what cascades from it: labels, comments, attachments).

    The signal goes first, so that receivers can still read what goes with the task.
    """
    task_changed.send(
        sender=Task,
        task=task,
        actor=actor,
        change=Change.DELETED,
        fields=frozenset(),
        payload=task_deleted_payload(task),
        previous=task_payload(task),
    )
    task.delete()


def task_bulk_update(*, tasks: Iterable[Task], actor: User, changes: dict, operator: bool = False) -> int:
    """Apply the same change to several tasks (admin actions); returns how many changed."""
    changed = 0
    with _change_by(actor):
        tasks = list(tasks)
        _tasks_lock(Task.objects.filter(pk__in=[task.pk for task in tasks]))
        for task in tasks:
            version = task.version
            changed += task_update(task=task, actor=actor, data=changes, operator=operator).version != version
    return changed


def _task_lock(task: Task, *, expected_version: int | None, merging: Collection[str] | None = None) -> Task:
    """The task's current row, locked for this transaction; checks the expected version, or with
    `merging` (the fields a merge changes) that none of them changed after it."""
    current = fetch_instance(Task, sql(_LOCK_TASK, task=Task), [task.pk])
    if current is None:
        raise Task.DoesNotExist(f"No task {task.pk}.")
    if expected_version is None or expected_version == current.version:
        return current
    if merging is None:
        raise VersionMismatch("The task was changed by someone else.", current=current)
    conflicts = _merge_conflicts(current, expected_version=expected_version, fields=merging)
    if conflicts is None:
        raise VersionConflict(
            "If-Match names a version this task has not had.", current=current, conflicts=sorted(merging)
        )
    if conflicts:
        raise VersionConflict(
            f"Someone else changed these fields after version {expected_version}.",
            current=current,
            conflicts=conflicts,
        )
    return current


def _merge_conflicts(task: Task, *, expected_version: int, fields: Collection[str]) -> list[str] | None:
    """The `fields` (API names) that changed after `expected_version`, sorted; None when `task`
    had no such version (0, which a malformed If-Match gives, or one after the task's own).

    A field not in `field_versions` was last changed by the creation, at version 1.
    """
    if not 1 <= expected_version <= task.version:
        return None
    return sorted(name for name in fields if task.field_versions.get(name, 1) > expected_version)


def _task_apply(*, task: Task, actor: User | None, changes: dict, if_unchanged: bool = False) -> bool:
    """Write the fields that really change, bump the version and keep `completed_at` true.

    With `if_unchanged`, the row is written only if its version is still the instance's (the
    UPDATE locks it): False when it is not, and the instance is then stale. Without, the caller
    holds the row's lock (_task_lock).
    """
    values = {}
    for name, value in changes.items():
        if name == "checklist":
            value, last_id = _checklist_numbered(task, value)
            if last_id != task.checklist_last_id:
                values["checklist_last_id"] = last_id
        attribute = _FOREIGN_KEYS.get(name, name)
        if getattr(task, attribute) != value:
            values[attribute] = value
    if not values:
        return True
    previous = task_payload(task)
    for attribute, value in values.items():
        setattr(task, attribute, value)
    fields = list(values)
    if "status" in fields:
        task.completed_at = timezone.now() if task.status == Status.DONE else None
        fields.append("completed_at")
    task.version += 1
    # Every write of a task's fields is here, whoever makes it, so each counts for merges.
    task.field_versions = {**task.field_versions, **dict.fromkeys(_field_names(values), task.version)}
    # One row by its key: written out by hand (taskflow.db.rows).
    expected = {"version": task.version - 1} if if_unchanged else {}
    if not update_instance(task, [*fields, "field_versions", "version", "updated_at"], **expected):
        return False
    if "labels" in fields:
        _label_index_replace(task, created=False)
    task_changed.send(
        sender=Task,
        task=task,
        actor=actor,
        change=Change.UPDATED,
        fields=frozenset(fields),
        payload=task_payload(task),
        previous=previous,
    )
    return True


# Fields that are other rows, by id.
_FOREIGN_KEYS = {"assignee": "assignee_id", "created_by": "created_by_id", "parent": "parent_id"}
# The field each written attribute belongs to, by its API name (Task.field_versions).
_FIELD_OF_ATTRIBUTE = {attribute: name for name, attribute in _FOREIGN_KEYS.items()} | {
    "checklist_last_id": "checklist"
}


def _field_names(attributes: Iterable[str]) -> set[str]:
    return {_FIELD_OF_ATTRIBUTE.get(attribute, attribute) for attribute in attributes}


# Every task write locks its row, so the statement is written out (taskflow.db.rows).
_LOCK_TASK = "SELECT * FROM {task} WHERE id = %s{for_update}"


# --- Users ----------------------------------------------------------------------------------------


def user_projects_leave(*, user: User, actor: User | None) -> None:
    """Record what deleting a user account changes in every project, before it is deleted (in the
    transaction of accounts.services.user_delete, whose `user_deleting` signal calls this).

    The user leaves each project (their tasks there become unassigned) and the tasks they created
    lose their `created_by`, each with a `task.updated` event; the database's own SET NULL would
    change those rows silently. A user who owns projects cannot be deleted (Project.owner is
    protected): transfer or delete those projects first.
    """
    with _change_by(actor):
        _tasks_lock(Task.objects.filter(Q(created_by=user) | Q(assignee=user)))
        memberships = Membership.objects.filter(user=user).exclude(role=Role.OWNER).select_related("project", "user")
        for membership in memberships.order_by("project_id"):
            member_remove(project=membership.project, actor=actor, membership=membership, operator=True)
        for task in Task.objects.filter(created_by=user).order_by("project_id", "pk"):
            _task_apply(task=task, actor=actor, changes={"created_by": None})


# --- Invitations ----------------------------------------------------------------------------------


def _invitation_token_hash(token: str) -> str:
    """What is stored of an invitation's token: its SHA-256, in hex. The token is 32 random bytes,
    so a fast hash is enough (there is nothing to guess)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _invitations_pending(project_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        project_id=project_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def invitation_create(
    *, project: Project, actor: User, email: str, role: str = Role.MEMBER, operator: bool = False
) -> Invitation:
    """Invite `email` to `project` with `role`: owners and admins may, and only the owner invites
    an admin. 400 when that address is a member's or has a pending invitation to the project.

    The one-time token is made here and emailed once the invitation commits (tasks.mail); only its
    hash is stored. The invitation is a row of the project, so the event counter comes first (the
    lock order): it also queues concurrent invitations of one address, so only one gets through.
    """
    if role not in INVITABLE_ROLES:
        raise InvalidInput("An invitation's role is admin, member or viewer.", field="role")
    _require_member_manager(project, {role}, operator=operator)
    token = secrets.token_urlsafe(32)
    with _change_by(actor, project_id=project.pk):
        if Membership.objects.filter(project=project, user__email__iexact=email).exists():
            raise InvalidInput("A member of the project has this email address.", field="email")
        if _invitations_pending(project.pk).filter(email__iexact=email).exists():
            raise InvalidInput("This email address has a pending invitation to the project.", field="email")
        now = timezone.now()
        invitation = Invitation.objects.create(
            project=project,
            email=email,
            role=role,
            token_hash=_invitation_token_hash(token),
            invited_by=actor,
            created_at=now,
            expires_at=now + settings.TASKFLOW_INVITATION_LIFETIME,
        )
        _invitation_changed(invitation, actor=actor, change=Change.CREATED)
        inviter_name = actor.get_username() if actor is not None else "TaskFlow"

        def email_send() -> None:
            invitation_email_send(invitation=invitation, project=project, inviter_name=inviter_name, token=token)

        # After the commit, from memory: the token is in no row, job or log (tasks.mail).
        transaction.on_commit(email_send, robust=True)
    return invitation


def invitation_revoke(*, project: Project, actor: User, invitation: Invitation, operator: bool = False) -> None:
    """Revoke a pending invitation (its token stops working): owners and admins, and only the owner
    revokes an invitation to be an admin. 404 if it is not pending any more."""
    _require_member_manager(project, {invitation.role}, operator=operator)
    with _change_by(actor, project_id=project.pk):
        current = _invitations_pending(project.pk).select_for_update().filter(pk=invitation.pk).first()
        if current is None:
            raise NotFound()
        previous = invitation_payload(current)
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        _invitation_changed(current, actor=actor, change=Change.DELETED, previous=previous)


INVITATION_INVALID = "This invitation token is unknown, used, revoked or expired."


def invitation_accept(*, token: str, actor: User, email: str | None = None) -> Membership:
    """Accept an invitation with its token: `actor` becomes a member of its project with its role,
    through `member_add` (so `member.added` is recorded, with the new member as its actor).

    Any signed-in user holding the token may accept it. With `email` (a registration), the
    invitation must be for that address. 400 on `token` for a token that is unknown, used, revoked
    or expired, and for a user who is a member already (the invitation then stays pending).
    """
    found = Invitation.objects.filter(token_hash=_invitation_token_hash(token)).values_list("project_id", flat=True)
    project_id = found.first()
    if project_id is None:
        raise InvalidInput(INVITATION_INVALID, field="token")
    try:
        with _change_by(actor, project_id=project_id):
            pending = _invitations_pending(project_id).select_for_update()
            invitation = pending.select_related("project").filter(token_hash=_invitation_token_hash(token)).first()
            if invitation is None:
                raise InvalidInput(INVITATION_INVALID, field="token")
            if email is not None and invitation.email.casefold() != email.casefold():
                raise InvalidInput("This invitation is for another email address.", field="token")
            if Membership.objects.filter(project_id=project_id, user=actor).exists():
                raise InvalidInput("You are a member of this project already.", field="token")
            membership = member_add(
                project=invitation.project, actor=actor, user=actor.pk, role=invitation.role, operator=True
            )
            invitation.accepted_at = timezone.now()
            invitation.accepted_by = actor
            invitation.save(update_fields=["accepted_at", "accepted_by"])
    except Project.DoesNotExist:
        # The project was deleted since the token was looked up: its invitations went with it.
        raise InvalidInput(INVITATION_INVALID, field="token") from None
    return membership


def _invitation_changed(invitation: Invitation, *, actor: User | None, change: Change, previous=None) -> None:
    invitation_changed.send(
        sender=Invitation,
        invitation=invitation,
        actor=actor,
        change=change,
        payload=invitation_payload(invitation),
        previous=previous,
    )
