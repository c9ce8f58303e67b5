"""Test data for projects and tasks, made through the services so events are recorded as in use."""

from tasks import services
from tasks.models import Project, Task


def make_task(*, project: Project, actor=None, **data) -> Task:
    """A task in `project`, created by `actor` (the owner by default)."""
    data.setdefault("title", "A task")
    return services.task_create(project=project, actor=actor or project.owner, data=data, operator=True)
