"""Reads of projects, members and tasks, always scoped to what the caller may see."""

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.authentication import caller_token_sql, user_check, user_check_by_row
from accounts.models import PersonalAccessToken, User
from taskflow.db.rows import fetch_instance, fetch_row, sql
from taskflow.errors import AccessDenied, NotFound
from tasks.models import PROJECT_EDITORS, Invitation, Membership, Project, Task


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


def in_projects_of(queryset: QuerySet, *, user: User) -> QuerySet:
    """Rows of `queryset` (of a model with a `project` foreign key) in projects `user` belongs to,
    each annotated with the user's `role` in its project: for what belongs to a project's tasks
    (comments, attachments)."""
    role = Membership.objects.filter(project_id=OuterRef("project_id"), user=user).values("role")[:1]
    return queryset.annotate(role=Subquery(role)).filter(role__isnull=False)


def member_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("joined_at", "id")


def member_get(*, project: Project, user_id: int) -> Membership:
    try:
        return member_list(project=project).get(user_id=user_id)
    except Membership.DoesNotExist:
        raise NotFound() from None


def project_get_for_invitations(*, user: User, project_id: int) -> Project:
    """A project whose invitations `user` manages (its owner or an admin), with `role`.

    Invitations name the addresses invited, so other members get 403; anyone else the usual 404.
    """
    project = project_get_for_user(user=user, project_id=project_id)
    if project.role not in PROJECT_EDITORS:
        raise AccessDenied("Only the project's owner and admins manage its invitations.")
    return project


def invitation_list(*, project: Project) -> QuerySet[Invitation]:
    """A project's pending invitations (not accepted, revoked or expired), newest first."""
    return Invitation.objects.filter(
        project=project, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at", "-id")


def invitation_get(*, project: Project, invitation_id: int) -> Invitation:
    """One pending invitation of `project`; else 404."""
    invitation = invitation_list(project=project).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound()
    return invitation


def user_list_sharing_projects(*, user: User, search: str) -> QuerySet[User]:
    """Active users who are members of a project `user` is a member of (`user` too), whose username,
    first or last name contains `search` (ignoring case), by username. Nobody else, whatever the
    search: a user's name is only seen by the people who already see them in a member list."""
    shared = Membership.objects.filter(
        user_id=OuterRef("pk"), project_id__in=Membership.objects.filter(user=user).values("project_id")
    )
    matches = Q(username__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search)
    return User.objects.filter(matches, Exists(shared), is_active=True).order_by("username", "id")


def task_list_for_user(*, user: User) -> QuerySet[Task]:
    """Tasks of every project the user belongs to (a user from a token is checked first)."""
    user_check(user)
    return Task.objects.filter(project__memberships__user=user)


def task_get_for_user(*, user: User, task_id: int) -> Task:
    """One task the user can see, with `role` (the user's role in its project); else 404.

    Every task read and write starts here, so the query is written out: building the same join
    through the ORM cost several times running it (bench/README.md). It joins the user's row too,
    so that a user from a token needs no query of its own (accounts.authentication).
    """
    columns, column_params, join, join_params = caller_token_sql(user)
    template = _TASK_WITH_ROLE.format(token_columns=columns, token_join=join)
    statement = sql(template, task=Task, membership=Membership, user=User, token=PersonalAccessToken)
    task = fetch_instance(Task, statement, [*column_params, user.pk, True, *join_params, task_id])
    if task is None:
        user_check(user)  # 401 for a user who may no longer sign in, 404 for anyone else
        raise NotFound()
    fields = task.__dict__
    token_columns = tuple(fields.pop(name, None) for name in _TOKEN_COLUMNS)
    user_check_by_row(user, password=fields.pop("user_password"), token_columns=token_columns)
    return task


def project_event_seq_for_user(*, user: User, project_id: str | int | None) -> int | None:
    """The latest event seq of a project the user belongs to; None for anything else.

    Like task_get_for_user, it checks a user from a token on the way (401 if they may not sign in).
    """
    if project_id is None or not (str(project_id).isascii() and str(project_id).isdigit()) or len(str(project_id)) > 18:
        user_check(user)
        return None
    columns, column_params, join, join_params = caller_token_sql(user)
    template = _PROJECT_SEQ_FOR_MEMBER.format(token_columns=columns, token_join=join)
    statement = sql(template, project=Project, membership=Membership, user=User, token=PersonalAccessToken)
    row = fetch_row(statement, [*column_params, True, *join_params, int(project_id), user.pk])
    if row is None:
        user_check(user)
        return None
    event_seq, password, *token_columns = row
    user_check_by_row(user, password=password, token_columns=tuple(token_columns) or (None,) * 4)
    return event_seq


# The hottest reads, written out (taskflow.db.rows). Each joins the caller's row only while the caller
# may sign in (is_active), and reads its password hash for a JWT's revoke claim; for a caller with a
# personal access token, it joins the token too (accounts.authentication.caller_token_sql).
_TASK_WITH_ROLE = (
    "SELECT t.*, m.role, u.password AS user_password{token_columns} FROM {{task}} t"
    " INNER JOIN {{membership}} m ON m.project_id = t.project_id AND m.user_id = %s"
    " INNER JOIN {{user}} u ON u.id = m.user_id AND u.is_active = %s{token_join}"
    " WHERE t.id = %s"
)
_PROJECT_SEQ_FOR_MEMBER = (
    "SELECT p.event_seq, u.password{token_columns} FROM {{project}} p"
    " INNER JOIN {{membership}} m ON m.project_id = p.id"
    " INNER JOIN {{user}} u ON u.id = m.user_id AND u.is_active = %s{token_join}"
    " WHERE p.id = %s AND m.user_id = %s"
)
_TOKEN_COLUMNS = ("token_id", "token_scope", "token_alive", "token_stale")
