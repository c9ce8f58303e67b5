"""A PATCH or DELETE that loses a race with a DELETE of its task, or of the task's project, is a 404.

The race is made to happen, not hoped for: the test deletes the row in a transaction it keeps
open, sends the request (which reads the row as it was: reads do not wait for row locks), waits
until the request's session is blocked in a locking statement on the deleted row, and only then
commits. The request's write then finds no row, as it would a moment after a real DELETE. This
needs row locks a session can be seen waiting on: it runs in the MySQL + Redis pass.
"""

import threading

import pytest
from django.db import connection, transaction

from realtime.models import Event
from realtime.tests.servers import wait_until
from tasks import selectors, services
from tasks.models import Project, Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("a request waiting on a row lock needs MySQL; this runs in the MySQL + Redis pass")


def _delete_task(user, project, task):
    services.task_delete(task=selectors.task_get_for_user(user=user, task_id=task.pk), actor=user)


def _delete_project(user, project, task):
    services.project_delete(project=selectors.project_get_for_user(user=user, project_id=project.pk), actor=user)


RACES = {
    "task PATCH, task DELETE": ("patch", "/api/tasks/{task}/", {"title": "Too late"}, _delete_task),
    "task DELETE, task DELETE": ("delete", "/api/tasks/{task}/", None, _delete_task),
    "task PATCH, project DELETE": ("patch", "/api/tasks/{task}/", {"title": "Too late"}, _delete_project),
    "task DELETE, project DELETE": ("delete", "/api/tasks/{task}/", None, _delete_project),
    "project PATCH, project DELETE": ("patch", "/api/projects/{project}/", {"name": "Too late"}, _delete_project),
    "project DELETE, project DELETE": ("delete", "/api/projects/{project}/", None, _delete_project),
}


@pytest.mark.parametrize("race", RACES.values(), ids=RACES.keys())
def test_a_write_that_loses_a_race_with_a_delete_is_a_404(on_mysql, race, client, user, project):
    method, path, body, delete = race
    task = services.task_create(project=project, actor=user, data={"title": "Contested"}, operator=True)
    path = path.format(task=task.pk, project=project.pk)
    response = _request_losing_to(lambda: delete(user, project, task), client, method, path, body)
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found."}
    assert not Task.objects.filter(pk=task.pk).exists()
    if delete is _delete_task:
        # The losing write recorded nothing: the log ends with the winner's task.deleted.
        assert list(Event.objects.filter(project=project).order_by("seq").values_list("type", flat=True)) == [
            "member.added",
            "task.created",
            "task.deleted",
        ]
    else:
        assert not Project.objects.filter(pk=project.pk).exists()


def test_a_create_that_loses_a_race_with_its_project_delete_is_a_400_on_project(on_mysql, client, user, project):
    # As for any project that does not exist, or that the caller cannot see, in a create.
    body = {"project": project.pk, "title": "Too late"}
    response = _request_losing_to(lambda: _delete_project(user, project, None), client, "post", "/api/tasks/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["project"]
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Task.objects.exists()


def _request_losing_to(delete, client, method: str, path: str, body):
    """Send the request while `delete` is done but not committed, and commit it only once the
    request waits on the row it deleted; returns the request's response."""
    sessions, responses = [], []
    # Answer an exception as a server would (a 500), instead of raising it in the test.
    client.raise_request_exception = False

    def request() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                sessions.append(cursor.fetchone()[0])
            # Django's test client keeps this thread's connection for the request.
            responses.append(getattr(client, method)(path, body, format="json"))
        finally:
            connection.close()

    requester = threading.Thread(target=request)
    with transaction.atomic():
        delete()
        requester.start()
        wait_until(lambda: _waits_in_a_locking_statement(sessions), timeout=10, what="the request waiting on the row")
    requester.join(timeout=15)
    [response] = responses
    return response


def _waits_in_a_locking_statement(sessions: list[int]) -> bool:
    """Whether the request's session is running a statement that takes row locks: every row it
    could lock is held by the test, so it is waiting for the test to commit."""
    if not sessions:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", [sessions[0]])
        row = cursor.fetchone()
    statement = (row[0] or "") if row else ""
    return statement.startswith("UPDATE") or statement.endswith("FOR UPDATE")
