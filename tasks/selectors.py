"""Reads of projects, members and tasks, always scoped to what the caller may see."""

from django.db.models import F, FilteredRelation, Q, QuerySet

from accounts.models import User
from taskflow.errors import NotFound
from taskflow.sql import fetch_instance, fetch_value, sql
from tasks.models import Membership, Project, Task


def project_list_for_user(*, user: User) -> QuerySet[Project]:
    """Projects the user belongs to, each annotated with the user's `role` in it."""
    return (
        Project.objects.annotate(my_membership=FilteredRelation("memberships", condition=Q(memberships__user=user)))
        .filter(my_membership__isnull=False)
        .annotate(role=F("my_membership__role"))
    )


def project_get_for_user(*, user: User, project_id: int, for_update: bool = False) -> Project:
    """One project of the user's, with `role`; missing and foreign are the same 404."""
    projects = project_list_for_user(user=user)
    if for_update:
        projects = projects.select_for_update()
    try:
        return projects.get(pk=project_id)
    except Project.DoesNotExist:
        raise NotFound() from None


def member_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("joined_at", "id")


def member_get(*, project: Project, user_id: int) -> Membership:
    try:
        return member_list(project=project).get(user_id=user_id)
    except Membership.DoesNotExist:
        raise NotFound() from None


def task_list_for_user(*, user: User) -> QuerySet[Task]:
    """Tasks of every project the user belongs to."""
    return Task.objects.filter(project__memberships__user=user)


def task_get_for_user(*, user: User, task_id: int) -> Task:
    """One task the user can see, with `role` (the user's role in its project); else 404.

    Every task read and write starts here, so the query is written out: building the same join
    through the ORM cost several times running it (bench/README.md).
    """
    statement = sql(_TASK_WITH_ROLE, task=Task, membership=Membership)
    task = fetch_instance(Task, statement, [user.pk, task_id])
    if task is None:
        raise NotFound()
    return task


def project_event_seq_for_user(*, user: User, project_id: str | int | None) -> int | None:
    """The latest event seq of a project the user belongs to; None for anything else."""
    if project_id is None or not str(project_id).isdigit() or len(str(project_id)) > 18:
        return None
    statement = sql(_PROJECT_SEQ_FOR_MEMBER, project=Project, membership=Membership)
    return fetch_value(statement, [int(project_id), user.pk])


# The hottest reads, written out (taskflow.sql).
_TASK_WITH_ROLE = (
    "SELECT t.*, m.role FROM {task} t INNER JOIN {membership} m ON m.project_id = t.project_id AND m.user_id = %s"
    " WHERE t.id = %s"
)
_PROJECT_SEQ_FOR_MEMBER = (
    "SELECT p.event_seq FROM {project} p INNER JOIN {membership} m ON m.project_id = p.id"
    " WHERE p.id = %s AND m.user_id = %s"
)
