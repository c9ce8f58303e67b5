"""Task list pages and task details served from the cache are always the current ones, for the caller."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from tasks import services
from tasks.serializers import TaskSerializer
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["results"]]


def list_path(project, **params) -> str:
    query = "&".join(f"{name}={value}" for name, value in {"project": project.pk, **params}.items())
    return f"/api/tasks/?{query}"


def test_a_change_shows_in_the_next_list_at_once(client, project):
    make_task(project=project, title="First")
    assert titles(client.get(list_path(project))) == ["First"]
    task = make_task(project=project, title="Second")
    assert titles(client.get(list_path(project))) == ["First", "Second"]
    services.task_update(task=task, actor=project.owner, data={"title": "Renamed"}, operator=True)
    assert titles(client.get(list_path(project))) == ["First", "Renamed"]


def test_repeated_list_is_served_without_listing_queries(client, project):
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    first = client.get(list_path(project))
    with CaptureQueriesContext(connection) as queries:
        again = client.get(list_path(project))
    assert again.json() == first.json()
    assert again["X-Event-Seq"] == first["X-Event-Seq"]
    # The project's seq with the membership check and the caller's row (authentication); no task query.
    assert len(queries) == 1, [query["sql"] for query in queries]


def test_each_member_gets_their_own_assignee_me_page(client_for, project, add_member):
    first, second = add_member("member"), add_member("member")
    make_task(project=project, title="Mine", assignee=first.pk)
    make_task(project=project, title="Yours", assignee=second.pk)
    assert titles(client_for(first).get(list_path(project, assignee="me"))) == ["Mine"]
    assert titles(client_for(second).get(list_path(project, assignee="me"))) == ["Yours"]


def test_an_outsider_never_gets_a_cached_page(client, client_for, project):
    from accounts.tests.factories import UserFactory

    make_task(project=project, title="Secret")
    assert titles(client.get(list_path(project))) == ["Secret"]
    response = client_for(UserFactory()).get(list_path(project))
    assert titles(response) == []
    assert "X-Event-Seq" not in response


def test_a_removed_member_no_longer_sees_the_page(client_for, project, add_member):
    member = add_member("member")
    make_task(project=project, title="Team only")
    assert titles(client_for(member).get(list_path(project))) == ["Team only"]
    membership = project.memberships.get(user=member)
    services.member_remove(project=project, actor=project.owner, membership=membership, operator=True)
    assert titles(client_for(member).get(list_path(project))) == []


def test_pages_and_filters_are_cached_apart(client, project):
    for index in range(3):
        make_task(project=project, title=f"Task {index}", status="done" if index == 1 else "todo")
    assert titles(client.get(list_path(project, page_size=2))) == ["Task 0", "Task 1"]
    second_page = client.get(list_path(project, page_size=2, page=2))
    assert titles(second_page) == ["Task 2"]
    assert second_page.json()["next"] is None
    assert "page=" not in second_page.json()["previous"]
    assert titles(client.get(list_path(project, status="done"))) == ["Task 1"]
    assert titles(client.get(list_path(project, page_size=2))) == ["Task 0", "Task 1"]


def test_invalid_filters_are_still_refused_after_a_valid_list(client, project):
    make_task(project=project)
    assert client.get(list_path(project)).status_code == 200
    assert client.get(list_path(project, status="nope")).status_code == 400
    assert client.get(list_path(project, page=0)).status_code == 404


# --- Conditional GET --------------------------------------------------------------------------------


def test_list_with_the_current_etag_is_not_modified(client, project):
    make_task(project=project)
    first = client.get(list_path(project))
    response = client.get(list_path(project), HTTP_IF_NONE_MATCH=first["ETag"])
    assert response.status_code == 304
    assert response.content == b""
    assert response["X-Event-Seq"] == first["X-Event-Seq"]
    assert response["ETag"] == first["ETag"]


def test_list_etag_changes_with_the_project_and_with_the_query(client, project):
    make_task(project=project)
    first = client.get(list_path(project))
    assert client.get(list_path(project, status="todo"))["ETag"] != first["ETag"]
    make_task(project=project, title="New")
    response = client.get(list_path(project), HTTP_IF_NONE_MATCH=first["ETag"])
    assert response.status_code == 200
    assert titles(response)[-1] == "New"


def test_task_with_its_current_version_is_not_modified(client, project):
    task = make_task(project=project)
    response = client.get(f"/api/tasks/{task.pk}/", HTTP_IF_NONE_MATCH='"1"')
    assert (response.status_code, response["ETag"], response.content) == (304, '"1"', b"")
    services.task_update(task=task, actor=project.owner, data={"title": "Changed"}, operator=True)
    response = client.get(f"/api/tasks/{task.pk}/", HTTP_IF_NONE_MATCH='"1"')
    assert (response.status_code, response["ETag"], response.json()["title"]) == (200, '"2"', "Changed")


def test_conditional_get_of_a_foreign_task_is_still_not_found(client_for, project):
    from accounts.tests.factories import UserFactory

    task = make_task(project=project)
    response = client_for(UserFactory()).get(f"/api/tasks/{task.pk}/", HTTP_IF_NONE_MATCH='"1"')
    assert response.status_code == 404


def test_spliced_page_is_byte_for_byte_what_drf_renders(client, project):
    from rest_framework.renderers import JSONRenderer

    for index in range(3):
        make_task(project=project, title=f"Tâche {index}", labels=["ünï"])
    for attempt in ("computed", "cached"):
        response = client.get(list_path(project, page_size=2, page=2) + "&ordering=-id")
        body = response.json()
        assert response.content == JSONRenderer().render(body), attempt
        assert response["Content-Type"] == "application/json"


def test_browsable_api_lists_the_project_too(client, project):
    make_task(project=project, title="Shown in HTML")
    response = client.get(list_path(project), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Shown in HTML" in response.content
    project.refresh_from_db()
    assert response["X-Event-Seq"] == str(project.event_seq)


def test_with_redis_a_process_serves_a_page_from_its_own_copy_and_only_for_the_same_seq(client, project):
    if "task-pages" not in settings.CACHES:
        pytest.skip("the process's own page copies sit in front of Redis; this runs in the MySQL + Redis pass")
    make_task(project=project, title="Kept")
    first = client.get(list_path(project))
    cache.delete_pattern("tasks:page:*")  # the shared copy is gone (Redis restarted, say); not this one

    with CaptureQueriesContext(connection) as queries:
        again = client.get(list_path(project))

    assert again.content == first.content
    assert len(queries) == 1  # the project's seq: no task query
    make_task(project=project, title="New")
    assert titles(client.get(list_path(project))) == ["Kept", "New"]


def test_a_task_detail_is_what_drf_renders_for_each_version_and_time_zone(client, project):
    task = make_task(project=project, title="Cached", due_at=datetime(2030, 1, 1, 12, tzinfo=UTC))
    path = f"/api/tasks/{task.pk}/"

    def drf_json(current) -> bytes:
        return JSONRenderer().render(TaskSerializer(current).data)

    first, again = client.get(path), client.get(path)
    assert first.content == again.content == drf_json(task)
    assert (first["Content-Type"], first["ETag"]) == ("application/json", '"1"')

    updated = services.task_update(task=task, actor=project.owner, data={"title": "Changed"}, operator=True)
    changed = client.get(path)
    assert changed.json()["title"] == "Changed"
    assert (changed.content, changed["ETag"]) == (drf_json(updated), '"2"')

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        in_tokyo = client.get(path)
        assert in_tokyo.content == drf_json(updated)
    assert in_tokyo.json()["due_at"] == "2030-01-01T21:00:00+09:00"
    assert client.get(path).json()["due_at"] == changed.json()["due_at"]

    indented = client.get(path, HTTP_ACCEPT="application/json; indent=2")
    assert indented.content.startswith(b'{\n  "id"')
