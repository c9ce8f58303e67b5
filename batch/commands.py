"""Applying a batch: its commands in order, in one transaction, each doing what its endpoint does.

A command runs the code of its endpoint, not a copy of its rules: the endpoint's view class gives
the serializer (with the context it gives it), the task and the project are read through the
same selectors (a task the caller cannot see is a 404), and the same services write, so roles,
versions, events and activity are the endpoint's. The first command that fails stops the batch:
the transaction rolls back, the events recorded in it included, so nothing is published
(realtime publishes on commit only), and `CommandFailed` names the command and its error.

Lock order (tasks.services._change_by): writers lock the task rows they change, then the
project's event counter. A batch's commands may name tasks and projects in any order, so before
the first one runs the batch takes every lock they will need in that order: the rows of the
existing tasks it names (and the subtasks of those it deletes), by primary key in id order, then
the counters of the projects it writes, in project id order. It then queues behind other writers instead of
deadlocking with them, and its events get consecutive seqs in each project, in command order.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.request import Request

from batch.serializers import (
    COMMENT_CREATE,
    TASK_CREATE,
    TASK_DELETE,
    TASK_UPDATE,
    BatchCommandSerializer,
    TaskReferenceField,
    task_id_or_none,
)
from comments import services as comment_services
from comments.api import TaskCommentsView
from taskflow.errors import ApplicationError, InvalidInput
from tasks import selectors as task_selectors
from tasks import services as task_services
from tasks.api import TaskViewSet, expected_version
from tasks.models import TASK_WRITERS, Membership, Project, Task


@dataclass
class CommandResult:
    """What the command's endpoint would have answered: its status and body."""

    status: int
    data: dict | None


@dataclass
class BatchApplied:
    """A committed batch: each command's result, in order, and the ids its temp ids got."""

    results: list[CommandResult]
    temp_id_mapping: dict[str, int] = field(default_factory=dict)


class CommandFailed(Exception):
    """Command `index` failed with `error`; `view` is its endpoint's, to render the error as it
    would (None when the command itself is malformed: it has no endpoint)."""

    def __init__(self, index: int, error: Exception, view) -> None:
        super().__init__(f"Command {index} failed: {error}")
        self.index = index
        self.error = error
        self.view = view


# What a command's failure is: the refusals its endpoint answers with 4xx. Anything else (the
# database away or giving up, a bug) fails the whole request as it would fail the endpoint's.
_COMMAND_ERRORS = (ApplicationError, exceptions.APIException, ObjectDoesNotExist, Http404)
# ...except that the caller may no longer sign in: that is the request's 401, not a command's.
_CALLER_ERRORS = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)


def batch_apply(*, request: Request, commands: list) -> BatchApplied:
    """Apply `commands` (as they arrived: each is validated when its turn comes) for the request's
    caller, all or nothing; raises CommandFailed for the first one that fails."""
    batch = _Batch(request)
    with transaction.atomic():
        _locks_take(actor=request.user, commands=commands)
        for index, command in enumerate(commands):
            view = None
            try:
                command = _command_valid(command)
                view, run = batch.op(command["op"])
                batch.results.append(run(view, command))
            except _CALLER_ERRORS:
                raise
            except _COMMAND_ERRORS as error:
                # Out of the atomic block: everything the batch wrote so far rolls back.
                raise CommandFailed(index, error, view) from error
    return BatchApplied(results=batch.results, temp_id_mapping=batch.temp_ids)


def _command_valid(command) -> dict:
    """The command's own fields, valid and as its `op` takes them (400 at this command otherwise)."""
    serializer = BatchCommandSerializer(data=command)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    op = values["op"]
    if "temp_id" in values and op != TASK_CREATE:
        raise InvalidInput("Only task.create takes a temp_id.", field="temp_id")
    if "id" in values and op not in (TASK_UPDATE, TASK_DELETE):
        hint = " (its task goes in args.task)" if op == COMMENT_CREATE else ""
        raise InvalidInput(f"{op} takes no id{hint}.", field="id")
    if "id" not in values and op in (TASK_UPDATE, TASK_DELETE):
        raise InvalidInput("This field is required.", field="id")
    if "if_match" in values and op not in (TASK_UPDATE, TASK_DELETE):
        raise InvalidInput("Only task.update and task.delete take if_match.", field="if_match")
    values.setdefault("args", {})
    return values


class _IfMatchHeader:
    """What tasks.api.expected_version reads of a request, its `If-Match` header, holding a
    command's `if_match`: the header's rules, parsed by the header's code."""

    def __init__(self, value: str) -> None:
        self.headers = {"If-Match": value}


def _expected_version(command: dict) -> int | None:
    if_match = command.get("if_match")
    if if_match is None:
        return None
    # A number is the version itself: `3` reads as `"3"` (and -1 like any malformed tag: never current).
    header = f'"{if_match}"' if isinstance(if_match, int) else if_match
    return expected_version(_IfMatchHeader(header))


class _Batch:
    """One batch's run: the request, the results so far and the temp ids earlier commands gave."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.actor = request.user
        self.results: list[CommandResult] = []
        self.temp_ids: dict[str, int] = {}

    def view(self, view_class, action: str | None):
        """The endpoint's view, set up as `as_view()` sets it up for this request: for its
        serializer and the context it gives it, and for its errors (a 412 renders the current
        task through it). Tests compare each result and error with the endpoint's own answer."""
        return view_class(request=self.request, args=(), kwargs={}, format_kwarg=None, action=action)

    def op(self, op: str):
        """The endpoint's view and the runner of command `op`."""
        view_class, action, run = {
            TASK_CREATE: (TaskViewSet, "create", self._task_create),
            TASK_UPDATE: (TaskViewSet, "partial_update", self._task_update),
            TASK_DELETE: (TaskViewSet, "destroy", self._task_delete),
            COMMENT_CREATE: (TaskCommentsView, None, self._comment_create),
        }[op]
        return self.view(view_class, action), run

    def _task_id(self, reference, *, field: str) -> int:
        """A task id as given, or the id of the task an earlier command created as `reference`."""
        if not isinstance(reference, str):
            return reference
        try:
            return self.temp_ids[reference]
        except KeyError:
            raise InvalidInput(
                f"No earlier task.create of this batch has the temp_id {reference!r}.", field=field
            ) from None

    def _with_parent(self, args: dict) -> dict:
        if isinstance(args.get("parent"), str):
            return {**args, "parent": self._task_id(args["parent"], field="parent")}
        return args

    # Each runner does what its endpoint's view does (tasks.api.TaskViewSet, comments.api.TaskCommentsView).

    def _task_create(self, view, command: dict) -> CommandResult:
        temp_id = command.get("temp_id")
        if temp_id is not None and temp_id in self.temp_ids:
            raise InvalidInput("An earlier command of this batch has this temp_id.", field="temp_id")
        serializer = view.get_serializer(data=self._with_parent(command["args"]))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        project = task_selectors.project_get_for_user(user=self.actor, project_id=data.pop("project").pk)
        serializer.instance = task_services.task_create(project=project, actor=self.actor, data=data)
        if temp_id is not None:
            self.temp_ids[temp_id] = serializer.instance.pk
        return CommandResult(status.HTTP_201_CREATED, serializer.data)

    def _task_update(self, view, command: dict) -> CommandResult:
        task_id = self._task_id(command["id"], field="id")
        args = self._with_parent(command["args"])
        task = task_selectors.task_get_for_user(user=self.actor, task_id=task_id)
        serializer = view.get_serializer(task, data=args, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.instance = task_services.task_update(
            task=task, actor=self.actor, data=serializer.validated_data, expected_version=_expected_version(command)
        )
        return CommandResult(status.HTTP_200_OK, serializer.data)

    def _task_delete(self, view, command: dict) -> CommandResult:
        task_id = self._task_id(command["id"], field="id")
        task = task_selectors.task_get_for_user(user=self.actor, task_id=task_id)
        task_services.task_delete(task=task, actor=self.actor, expected_version=_expected_version(command))
        return CommandResult(status.HTTP_204_NO_CONTENT, None)

    def _comment_create(self, view, command: dict) -> CommandResult:
        args = command["args"]
        if "task" not in args:
            raise InvalidInput("This field is required.", field="task")
        task_id = self._task_id(args["task"], field="task")
        if task_id_or_none(task_id) is None:
            raise InvalidInput(TaskReferenceField.default_error_messages["invalid"], field="task")
        view.task = task_selectors.task_get_for_user(user=self.actor, task_id=task_id)
        serializer = view.get_serializer(data=args)
        serializer.is_valid(raise_exception=True)
        serializer.instance = comment_services.comment_create(
            task=view.task, actor=self.actor, body=serializer.validated_data["body"]
        )
        return CommandResult(status.HTTP_201_CREATED, serializer.data)


def _locks_take(*, actor, commands: list) -> None:
    """Take the locks the commands will need, in the lock order (the module's docstring).

    Only in the caller's projects where they may write: a command on any other fails before it
    locks anything. References that are not ids (temp ids, malformed values) lock nothing here:
    temp ids name rows this transaction inserts, and malformed ones fail their command. A subtask
    given to a deleted task between the read of its subtasks and their locks is locked later, by
    `task_delete` itself: at worst a deadlock, which the database breaks (a 503 to send again).
    """
    task_ids, deleted_ids, project_ids = set(), set(), set()
    for command in commands:
        if not isinstance(command, dict):
            continue
        op = command.get("op")
        args = command.get("args") if isinstance(command.get("args"), dict) else {}
        named = []
        if op in (TASK_UPDATE, TASK_DELETE):
            named.append(command.get("id"))
        if op in (TASK_CREATE, TASK_UPDATE):
            named.append(args.get("parent"))
        if op == COMMENT_CREATE:
            named.append(args.get("task"))
        task_ids.update(task_id for task_id in map(task_id_or_none, named) if task_id is not None)
        if op == TASK_DELETE and task_id_or_none(command.get("id")) is not None:
            deleted_ids.add(command["id"])
        if op == TASK_CREATE and task_id_or_none(args.get("project")) is not None:
            project_ids.add(args["project"])
    if not task_ids and not project_ids:
        return
    writable = set(Membership.objects.filter(user=actor, role__in=TASK_WRITERS).values_list("project_id", flat=True))
    if task_ids:
        # Which rows, read without locks; then their locks by primary key alone, in id order. A
        # locking read through another index (the project's) takes that index's entries first, and
        # deadlocks with a writer that holds the row and is changing those entries (a position).
        rows = Task.objects.filter(Q(pk__in=task_ids) | Q(parent_id__in=deleted_ids), project_id__in=writable)
        locked = Task.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).select_for_update()
        project_ids.update(locked.order_by("pk").values_list("project_id", flat=True))
    counters = sorted(project_ids & writable)
    if counters:
        # The counters' row locks (tasks.event_counter), all at once, in project id order.
        list(Project.objects.filter(pk__in=counters).select_for_update().order_by("pk").values_list("pk", flat=True))
