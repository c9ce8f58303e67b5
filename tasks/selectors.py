"""Reads of projects, members and tasks, always scoped to what the caller may see."""

from django.db.models import F, FilteredRelation, Q, QuerySet

from accounts.models import User
from taskflow.errors import NotFound
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


def task_get_for_user(*, user: User, task_id: int, for_update: bool = False) -> Task:
    """One task the user can see, with `role` (the user's role in its project); else 404."""
    tasks = Task.objects.annotate(
        my_membership=FilteredRelation("project__memberships", condition=Q(project__memberships__user=user))
    ).filter(my_membership__isnull=False)
    tasks = tasks.annotate(role=F("my_membership__role"))
    if for_update:
        tasks = tasks.select_for_update()
    try:
        return tasks.get(pk=task_id)
    except Task.DoesNotExist:
        raise NotFound() from None


def project_event_seq_for_user(*, user: User, project_id: str | int | None) -> int | None:
    """The latest event seq of a project the user belongs to; None for anything else."""
    if project_id is None or not str(project_id).isdigit() or len(str(project_id)) > 18:
        return None
    return (
        Project.objects.filter(pk=int(project_id), memberships__user=user).values_list("event_seq", flat=True).first()
    )
