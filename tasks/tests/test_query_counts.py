"""List endpoints run a fixed number of queries, whatever the number of rows (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def queries_of_get(client, path: str, *, expected_rows: int) -> int:
    """How many queries a GET of `path` runs; checks that it listed `expected_rows` rows."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected_rows
    return len(queries)


def test_task_list_queries_do_not_grow_with_tasks(client, user, project, add_member):
    assignee = add_member("member")

    def add_tasks(count: int) -> None:
        for index in range(count):
            make_task(project=project, title=f"Task {index}", assignee=assignee.pk, labels=["a", "b"])

    add_tasks(3)
    with_3 = queries_of_get(client, "/api/tasks/", expected_rows=3)
    add_tasks(27)
    with_30 = queries_of_get(client, "/api/tasks/", expected_rows=30)

    assert with_30 == with_3


def test_filtered_task_list_queries_do_not_grow_with_tasks(client, user, project):
    def add_tasks(count: int) -> None:
        for index in range(count):
            make_task(project=project, title=f"Task {index}", labels=["x"], assignee=user.pk)

    path = f"/api/tasks/?project={project.pk}&label=x&assignee=me&ordering=-priority,due_at&search=task"
    add_tasks(3)
    with_3 = queries_of_get(client, path, expected_rows=3)
    add_tasks(27)
    with_30 = queries_of_get(client, path, expected_rows=30)

    assert with_30 == with_3


def test_project_list_queries_do_not_grow_with_projects(client, user):
    def add_projects(count: int) -> None:
        for index in range(count):
            services.project_create(actor=user, name=f"Project {index}")

    add_projects(3)
    with_3 = queries_of_get(client, "/api/projects/", expected_rows=3)
    add_projects(27)
    with_30 = queries_of_get(client, "/api/projects/", expected_rows=30)

    assert with_30 == with_3


def test_member_list_queries_do_not_grow_with_members(client, project, add_member):
    def add_members(count: int) -> None:
        for _ in range(count):
            add_member("viewer")

    add_members(2)
    with_3 = queries_of_get(client, f"/api/projects/{project.pk}/members/", expected_rows=3)
    add_members(27)
    with_30 = queries_of_get(client, f"/api/projects/{project.pk}/members/", expected_rows=30)

    assert with_30 == with_3
