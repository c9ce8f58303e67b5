"""Quick end-to-end path through projects and tasks."""

import pytest

from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_member_lists_tasks_of_project_with_event_seq_header(client, project):
    make_task(project=project, title="Write docs", labels=["docs"])
    response = client.get(f"/api/tasks/?project={project.pk}")
    assert response.status_code == 200
    assert [task["title"] for task in response.json()["results"]] == ["Write docs"]
    assert response["X-Event-Seq"] == "2"
