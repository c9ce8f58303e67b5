"""`GET /api/projects/{id}/comment-counts/`: how many comments each task of a project has, true at
the project's event seq it names, for a board that shows them on every card in one request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from comments.services import comment_create, comment_delete
from tasks import services
from tasks.models import Project
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def counts_url(project) -> str:
    return f"/api/projects/{project.pk}/comment-counts/"


def current_seq(project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


def test_counts_every_task_with_comments_at_the_current_seq(client, user, project):
    busy, quiet, other = (make_task(project=project, title=title) for title in ("Busy", "Quiet", "Other"))
    for body in ("One", "Two", "Three"):
        comment_create(task=busy, actor=user, body=body, operator=True)
    comment_create(task=other, actor=user, body="Only one", operator=True)
    response = client.get(counts_url(project))
    assert response.status_code == 200
    assert response.json() == {
        "event_seq": current_seq(project),
        "counts": [{"task": busy.pk, "count": 3}, {"task": other.pk, "count": 1}],
    }
    assert quiet.pk not in {row["task"] for row in response.json()["counts"]}


def test_a_project_without_comments_has_no_counts(client, project):
    make_task(project=project)
    assert client.get(counts_url(project)).json() == {"event_seq": current_seq(project), "counts": []}


def test_a_deleted_comment_is_counted_no_more_and_its_event_moves_the_seq(client, user, project):
    task = make_task(project=project)
    _, gone = (comment_create(task=task, actor=user, body=body, operator=True) for body in ("Kept", "Gone"))
    before = client.get(counts_url(project)).json()
    comment_delete(comment=gone, actor=user, operator=True)
    after = client.get(counts_url(project)).json()
    assert before["counts"] == [{"task": task.pk, "count": 2}]
    assert after == {"event_seq": before["event_seq"] + 1, "counts": [{"task": task.pk, "count": 1}]}


def test_the_counts_agree_with_the_comment_events_up_to_their_seq(client, user, project):
    # What a board does: counts at seq S, then the comment events after S.
    task = make_task(project=project)
    comment_create(task=task, actor=user, body="Before", operator=True)
    counts = client.get(counts_url(project)).json()
    comment_create(task=task, actor=user, body="After", operator=True)
    events = client.get(f"/api/projects/{project.pk}/events/?since={counts['event_seq']}").json()["events"]
    created = [event for event in events if event["type"] == "comment.created"]
    assert [event["data"]["body"] for event in created] == ["After"]
    assert counts["counts"][0]["count"] + len(created) == 2


def test_a_viewer_sees_the_counts(client_for, add_member, user, project):
    task = make_task(project=project)
    comment_create(task=task, actor=user, body="Hello", operator=True)
    response = client_for(add_member("viewer")).get(counts_url(project))
    assert response.json()["counts"] == [{"task": task.pk, "count": 1}]


def test_another_project_is_404_like_a_missing_one(client_for, project):
    outsider = client_for(services.project_create(actor=UserFactory(), name="Other").owner)
    assert outsider.get(counts_url(project)).status_code == 404
    assert outsider.get("/api/projects/999999999/comment-counts/").status_code == 404


def test_an_anonymous_caller_is_401(api_client, project):
    assert api_client.get(counts_url(project)).status_code == 401


def test_costs_two_statements_whatever_the_number_of_tasks(client, user, project):
    for index in range(5):
        comment_create(task=make_task(project=project, title=f"Task {index}"), actor=user, body="Hi", operator=True)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(counts_url(project))
    assert len(response.json()["counts"]) == 5
    # The caller's membership (with the caller's row), then the seq and the counts together.
    assert len(queries) == 2, [query["sql"] for query in queries]
