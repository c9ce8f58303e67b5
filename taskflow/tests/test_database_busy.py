"""A write the database gave up on (a lock it waited for too long) is a 503 with `Retry-After: 1`,
and nothing of it is committed: the client may send the same request again.

The test holds the task's row lock while the request's session may wait only a second for it
(`innodb_lock_wait_timeout`, set for that session alone). MySQL + Redis pass.
"""

import threading

import pytest
from django.db import connection, transaction

from realtime.models import Event
from tasks import services
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("row lock timeouts need MySQL; this runs in the MySQL + Redis pass")


def test_a_write_that_waited_too_long_for_a_lock_is_a_503_to_send_again(on_mysql, client, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Held"}, operator=True)
    responses = []
    client.raise_request_exception = False

    def request() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            # Django's test client keeps this thread's connection (and its session) for the request.
            responses.append(client.patch(f"/api/tasks/{task.pk}/", {"title": "Waited"}, format="json"))
        finally:
            connection.close()

    requester = threading.Thread(target=request)
    with transaction.atomic():
        Task.objects.select_for_update().get(pk=task.pk)
        requester.start()
        requester.join(timeout=15)

    [response] = responses
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert set(response.json()) == {"detail"}
    assert Task.objects.get(pk=task.pk).title == "Held"
    assert list(Event.objects.filter(project=project).values_list("type", flat=True)) == [
        "member.added",
        "task.created",
    ]
    # Sent again once nothing holds the row, it goes through.
    assert client.patch(f"/api/tasks/{task.pk}/", {"title": "Waited"}, format="json").status_code == 200
