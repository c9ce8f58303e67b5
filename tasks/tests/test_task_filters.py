"""The task list `GET /api/tasks/`: scope, filters, search, ordering, pagination and `X-Event-Seq`."""

from datetime import UTC, datetime

import pytest

from accounts.tests.factories import UserFactory
from tasks import services
from tasks.models import Priority, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["results"]]


def list_tasks(client, **params):
    return client.get("/api/tasks/", params)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Scope ----------------------------------------------------------------------------------------


def test_list_shows_tasks_of_all_my_projects_only(client, user, project):
    second = services.project_create(actor=user, name="Second")
    foreign = services.project_create(actor=UserFactory(), name="Foreign")
    make_task(project=project, title="In launch")
    make_task(project=second, title="In second")
    make_task(project=foreign, title="Foreign")

    response = list_tasks(client)

    assert sorted(titles(response)) == ["In launch", "In second"]


def test_viewer_sees_the_projects_tasks(client_for, project, add_member):
    make_task(project=project, title="Visible")

    response = list_tasks(client_for(add_member("viewer")))

    assert titles(response) == ["Visible"]


def test_list_is_empty_for_a_user_without_projects(client_for, project):
    make_task(project=project)

    response = list_tasks(client_for(UserFactory()))

    assert response.json() == {"next": None, "previous": None, "results": []}


def test_list_unauthenticated_is_401(api_client):
    response = api_client.get("/api/tasks/")

    assert response.status_code == 401


def test_list_is_in_position_order_by_default(client, project):
    make_task(project=project, title="Third", position=3)
    make_task(project=project, title="First", position=1)
    make_task(project=project, title="Second", position=2)

    response = list_tasks(client)

    assert titles(response) == ["First", "Second", "Third"]


# --- project --------------------------------------------------------------------------------------


def test_filter_by_project(client, user, project):
    other = services.project_create(actor=user, name="Other")
    make_task(project=project, title="Launch task")
    make_task(project=other, title="Other task")

    response = list_tasks(client, project=other.pk)

    assert titles(response) == ["Other task"]


def test_filter_by_foreign_project_is_empty(client, project):
    foreign = services.project_create(actor=UserFactory(), name="Foreign")
    make_task(project=foreign, title="Secret")

    response = list_tasks(client, project=foreign.pk)

    assert titles(response) == []


# --- status and priority --------------------------------------------------------------------------


def test_filter_by_one_status(client, project):
    make_task(project=project, title="Todo")
    make_task(project=project, title="Doing", status="in_progress")
    make_task(project=project, title="Done", status="done")

    response = list_tasks(client, status="in_progress")

    assert titles(response) == ["Doing"]


def test_filter_by_comma_list_of_statuses(client, project):
    make_task(project=project, title="Todo")
    make_task(project=project, title="Doing", status="in_progress")
    make_task(project=project, title="Done", status="done")
    make_task(project=project, title="Dropped", status="cancelled")

    response = list_tasks(client, status="done,cancelled")

    assert titles(response) == ["Done", "Dropped"]


def test_filter_by_comma_list_of_priorities(client, project):
    make_task(project=project, title="Low", priority=Priority.LOW)
    make_task(project=project, title="Medium", priority=Priority.MEDIUM)
    make_task(project=project, title="High", priority=Priority.HIGH)
    make_task(project=project, title="Urgent", priority=Priority.URGENT)

    response = list_tasks(client, priority="urgent,low")

    assert titles(response) == ["Low", "Urgent"]


def test_filter_by_one_priority(client, project):
    make_task(project=project, title="Medium")
    make_task(project=project, title="High", priority=Priority.HIGH)

    response = list_tasks(client, priority="high")

    assert titles(response) == ["High"]


# --- assignee -------------------------------------------------------------------------------------


@pytest.fixture
def assigned_tasks(user, project, add_member):
    """One task assigned to the signed-in user, one to a colleague, one to nobody."""
    colleague = add_member("member")
    make_task(project=project, title="Mine", assignee=user.pk)
    make_task(project=project, title="Colleague's", assignee=colleague.pk)
    make_task(project=project, title="Nobody's")
    return colleague


def test_filter_by_assignee_id(client, assigned_tasks):
    response = list_tasks(client, assignee=assigned_tasks.pk)

    assert titles(response) == ["Colleague's"]


def test_filter_by_assignee_me(client, assigned_tasks):
    response = list_tasks(client, assignee="me")

    assert titles(response) == ["Mine"]


def test_filter_by_assignee_me_is_the_caller(client_for, assigned_tasks):
    response = list_tasks(client_for(assigned_tasks), assignee="me")

    assert titles(response) == ["Colleague's"]


def test_filter_by_assignee_none(client, assigned_tasks):
    response = list_tasks(client, assignee="none")

    assert titles(response) == ["Nobody's"]


# --- label ----------------------------------------------------------------------------------------


def test_filter_by_label(client, project):
    make_task(project=project, title="Backend", labels=["backend", "api"])
    make_task(project=project, title="Frontend", labels=["frontend"])
    make_task(project=project, title="Unlabelled")

    response = list_tasks(client, label="api")

    assert titles(response) == ["Backend"]


def test_filter_by_label_ignores_case(client, project):
    make_task(project=project, title="Backend", labels=["Backend"])

    response = list_tasks(client, label="backend")

    assert titles(response) == ["Backend"]


def test_filter_by_label_matches_whole_labels_only(client, project):
    make_task(project=project, title="Backend", labels=["backend"])

    response = list_tasks(client, label="back")

    assert titles(response) == []


def test_filter_by_label_follows_label_changes(client, project):
    task = make_task(project=project, title="Relabelled", labels=["old"])
    client.patch(f"/api/tasks/{task.pk}/", {"labels": ["new"]})

    assert titles(list_tasks(client, label="new")) == ["Relabelled"]
    assert titles(list_tasks(client, label="old")) == []


# --- due_before and due_after ---------------------------------------------------------------------


@pytest.fixture
def due_tasks(project):
    """Tasks due around 10 January 2030, and one without a due date."""
    make_task(project=project, title="9th late", due_at=at("2030-01-09T23:59:59"))
    make_task(project=project, title="10th start", due_at=at("2030-01-10T00:00:00"))
    make_task(project=project, title="10th noon", due_at=at("2030-01-10T12:00:00"))
    make_task(project=project, title="10th late", due_at=at("2030-01-10T23:30:00"))
    make_task(project=project, title="11th start", due_at=at("2030-01-11T00:00:00"))
    make_task(project=project, title="No due date")


def test_due_before_a_date_includes_that_whole_day(client, due_tasks):
    response = list_tasks(client, due_before="2030-01-10")

    assert titles(response) == ["9th late", "10th start", "10th noon", "10th late"]


def test_due_after_a_date_includes_that_whole_day(client, due_tasks):
    response = list_tasks(client, due_after="2030-01-10")

    assert titles(response) == ["10th start", "10th noon", "10th late", "11th start"]


def test_due_before_a_moment_is_inclusive(client, due_tasks):
    response = list_tasks(client, due_before="2030-01-10T12:00:00Z")

    assert titles(response) == ["9th late", "10th start", "10th noon"]


def test_due_after_a_moment_is_inclusive(client, due_tasks):
    response = list_tasks(client, due_after="2030-01-10T12:00:00Z")

    assert titles(response) == ["10th noon", "10th late", "11th start"]


def test_due_after_and_due_before_the_same_day_give_that_day(client, due_tasks):
    response = list_tasks(client, due_after="2030-01-10", due_before="2030-01-10")

    assert titles(response) == ["10th start", "10th noon", "10th late"]


def test_due_filters_honour_an_offset(client, due_tasks):
    response = list_tasks(client, due_before="2030-01-10T13:00:00+02:00")

    assert titles(response) == ["9th late", "10th start"]


def test_tasks_without_due_date_never_match_due_filters(client, due_tasks):
    before = titles(list_tasks(client, due_before="2100-01-01"))
    after = titles(list_tasks(client, due_after="1970-01-01"))

    assert "No due date" not in before
    assert "No due date" not in after
    assert len(before) == len(after) == 5


# --- updated_since --------------------------------------------------------------------------------


def test_filter_by_updated_since_is_inclusive(client, project):
    for title, updated_at in [("Old", "2024-01-01T00:00:00"), ("Edge", "2024-06-01T00:00:00")]:
        task = make_task(project=project, title=title)
        # Set directly: saving through the services would stamp the current time.
        Task.objects.filter(pk=task.pk).update(updated_at=at(updated_at))
    make_task(project=project, title="Fresh")

    response = list_tasks(client, updated_since="2024-06-01T00:00:00Z")

    assert titles(response) == ["Edge", "Fresh"]


def test_updated_since_sees_a_change_made_after_it(client, project):
    task = make_task(project=project, title="Changed")
    make_task(project=project, title="Untouched")
    Task.objects.update(updated_at=at("2024-01-01T00:00:00"))

    client.patch(f"/api/tasks/{task.pk}/", {"status": "done"})

    assert titles(list_tasks(client, updated_since="2025-01-01T00:00:00Z")) == ["Changed"]


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def searchable_tasks(project):
    make_task(project=project, title="Fix login bug", description="Users cannot sign in")
    make_task(project=project, title="Write docs", description="Explain the LOGIN page")
    make_task(project=project, title="Refactor billing", description="")


def test_search_ignores_case(client, searchable_tasks):
    response = list_tasks(client, search="Login")

    assert titles(response) == ["Fix login bug", "Write docs"]


def test_search_matches_the_description(client, searchable_tasks):
    response = list_tasks(client, search="explain")

    assert titles(response) == ["Write docs"]


def test_search_needs_every_word(client, searchable_tasks):
    response = list_tasks(client, search="login bug")

    assert titles(response) == ["Fix login bug"]


def test_search_words_may_be_split_between_title_and_description(client, searchable_tasks):
    response = list_tasks(client, search="docs page")

    assert titles(response) == ["Write docs"]


def test_search_word_order_does_not_matter(client, searchable_tasks):
    response = list_tasks(client, search="bug fix")

    assert titles(response) == ["Fix login bug"]


def test_search_with_no_match_is_empty(client, searchable_tasks):
    response = list_tasks(client, search="login billing")

    assert titles(response) == []


def test_search_treats_wildcards_literally(client, project):
    make_task(project=project, title="100% done")
    make_task(project=project, title="1000 rows")

    assert titles(list_tasks(client, search="100%")) == ["100% done"]
    assert titles(list_tasks(client, search="_")) == []


# --- ordering -------------------------------------------------------------------------------------


def test_ordering_by_priority_is_by_rank_not_alphabetical(client, project):
    for title, rank in [
        ("Medium", Priority.MEDIUM),
        ("Low", Priority.LOW),
        ("Urgent", Priority.URGENT),
        ("High", Priority.HIGH),
    ]:
        make_task(project=project, title=title, priority=rank)

    descending = titles(list_tasks(client, ordering="-priority"))
    ascending = titles(list_tasks(client, ordering="priority"))

    assert descending == ["Urgent", "High", "Medium", "Low"]
    assert ascending == ["Low", "Medium", "High", "Urgent"]


def test_ordering_by_priority_then_due_date(client, project):
    make_task(project=project, title="Low soon", priority=Priority.LOW, due_at=at("2030-01-01T00:00:00"))
    make_task(project=project, title="Medium late", priority=Priority.MEDIUM, due_at=at("2030-03-01T00:00:00"))
    make_task(project=project, title="Urgent late", priority=Priority.URGENT, due_at=at("2030-03-01T00:00:00"))
    make_task(project=project, title="Medium soon", priority=Priority.MEDIUM, due_at=at("2030-01-01T00:00:00"))
    make_task(project=project, title="High", priority=Priority.HIGH, due_at=at("2030-02-01T00:00:00"))
    make_task(project=project, title="Urgent soon", priority=Priority.URGENT, due_at=at("2030-01-01T00:00:00"))

    response = list_tasks(client, ordering="-priority,due_at")

    assert titles(response) == ["Urgent soon", "Urgent late", "High", "Medium soon", "Medium late", "Low soon"]


def test_ordering_by_title_descending(client, project):
    for title in ["b", "c", "a"]:
        make_task(project=project, title=title)

    response = list_tasks(client, ordering="-title")

    assert titles(response) == ["c", "b", "a"]


def test_ordering_keeps_pages_stable_when_values_tie(client, project):
    for index in range(6):
        make_task(project=project, title=f"Tie {index}", priority=Priority.HIGH)

    first = list_tasks(client, ordering="priority", page_size=3).json()
    second = client.get(first["next"]).json()

    all_ids = [task["id"] for task in first["results"] + second["results"]]
    assert sorted(all_ids) == sorted(Task.objects.values_list("id", flat=True))


# --- Combined filters -----------------------------------------------------------------------------


def test_filters_combine(client, user, project):
    other = services.project_create(actor=user, name="Other")
    wanted = {
        "status": "in_progress",
        "priority": Priority.HIGH,
        "assignee": user.pk,
        "labels": ["api"],
        "description": "login",
    }
    make_task(project=project, title="Match", **wanted)
    make_task(project=other, title="Other project", **wanted)
    make_task(project=project, title="Wrong status", **{**wanted, "status": "done"})
    make_task(project=project, title="Wrong priority", **{**wanted, "priority": Priority.LOW})
    make_task(project=project, title="Not mine", **{**wanted, "assignee": None})
    make_task(project=project, title="Wrong label", **{**wanted, "labels": ["ui"]})
    make_task(project=project, title="No search match", **{**wanted, "description": "billing"})

    response = list_tasks(
        client,
        project=project.pk,
        status="todo,in_progress",
        priority="high,urgent",
        assignee="me",
        label="api",
        search="login",
    )

    assert titles(response) == ["Match"]


def test_filters_combine_with_ordering(client, project):
    make_task(project=project, title="High todo", priority=Priority.HIGH)
    make_task(project=project, title="Urgent todo", priority=Priority.URGENT)
    make_task(project=project, title="Urgent done", priority=Priority.URGENT, status="done")

    response = list_tasks(client, status="todo", ordering="-priority")

    assert titles(response) == ["Urgent todo", "High todo"]


# --- Invalid filter values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("project", "abc"),
        ("project", "0"),
        ("project", "99999999999999999999999"),
        ("status", "closed"),
        ("status", "todo,closed"),
        ("status", ","),
        ("priority", "critical"),
        ("priority", "3"),
        ("assignee", "someone"),
        ("assignee", "-1"),
        ("assignee", "99999999999999999999999"),
        ("label", "l" * 51),
        ("due_before", "tomorrow"),
        ("due_before", "2030-02-30"),
        ("due_after", "2030-13-01"),
        ("due_after", "2030-01-10T25:00:00"),
        ("updated_since", "yesterday"),
        ("search", " ".join(f"word{index}" for index in range(11))),
        ("ordering", "secret"),
        ("ordering", "-priority,password"),
    ],
)
def test_invalid_filter_value_is_400_on_that_parameter(client, project, name, value):
    response = list_tasks(client, **{name: value})

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("due_after", "9999-12-31T23:59:59-05:00"),
        ("due_before", "0001-01-01T00:00:00+05:00"),
        ("updated_since", "9999-12-31T23:59:59-05:00"),
        ("updated_since", "0001-01-01T00:00:00+05:00"),
    ],
)
def test_moment_beyond_the_datetime_range_in_utc_is_400(client, project, name, value):
    response = list_tasks(client, **{name: value})

    assert response.status_code == 400
    assert name in response.json()


# --- Pagination -----------------------------------------------------------------------------------


def test_list_is_paginated_50_a_page_by_default(client, project):
    for index in range(51):
        make_task(project=project, title=f"Task {index}")

    response = list_tasks(client)

    body = response.json()
    assert len(body["results"]) == 50
    assert body["next"] is not None
    assert body["previous"] is None


def test_page_size_chooses_the_page_size(client, project):
    for index in range(5):
        make_task(project=project, title=f"Task {index}")

    response = list_tasks(client, page_size=3)

    assert titles(response) == ["Task 0", "Task 1", "Task 2"]


@pytest.fixture
def tasks_201(project):
    for index in range(201):
        make_task(project=project, title=f"Task {index}")


def test_page_size_of_200_is_allowed(client, tasks_201):
    response = list_tasks(client, page_size=200)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 200
    assert response.json()["next"] is not None


def test_page_size_over_200_is_capped_at_200_not_refused(client, tasks_201):
    response = list_tasks(client, page_size=100_000)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 200
    assert response.json()["next"] is not None


def test_next_and_previous_links_walk_the_pages(client, project):
    for index in range(5):
        make_task(project=project, title=f"Task {index}")

    first = list_tasks(client, page_size=2, status="todo").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    back = client.get(second["previous"]).json()

    assert [len(page["results"]) for page in (first, second, third)] == [2, 2, 1]
    assert first["previous"] is None
    assert third["next"] is None
    assert back == first
    seen = [task["title"] for page in (first, second, third) for task in page["results"]]
    assert seen == [f"Task {index}" for index in range(5)]


def test_next_link_keeps_the_filters(client, project):
    for index in range(3):
        make_task(project=project, title=f"Task {index}", status="done")
    make_task(project=project, title="Not done")

    first = list_tasks(client, page_size=2, status="done").json()

    assert "status=done" in first["next"]
    assert "page_size=2" in first["next"]
    assert "page=2" in first["next"]
    assert titles(client.get(first["next"])) == ["Task 2"]


def test_page_past_the_end_has_no_next_link(client, project):
    make_task(project=project)

    response = list_tasks(client, page=2)

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["next"] is None


@pytest.mark.parametrize("page", ["0", "-1", "abc"])
def test_invalid_page_is_json_404(client, project, page):
    response = list_tasks(client, page=page)

    assert response.status_code == 404
    assert "detail" in response.json()


# --- X-Event-Seq ----------------------------------------------------------------------------------


def test_event_seq_header_equals_the_projects_event_seq(client, project, add_member):
    add_member("viewer")
    task = make_task(project=project)
    client.patch(f"/api/tasks/{task.pk}/", {"status": "done"})
    project.refresh_from_db()

    response = list_tasks(client, project=project.pk)

    assert project.event_seq == 4
    assert response["X-Event-Seq"] == "4"


def test_event_seq_header_of_a_new_project_is_1(client, project):
    response = list_tasks(client, project=project.pk)

    assert response["X-Event-Seq"] == "1"


def test_event_seq_header_is_sent_to_viewers(client_for, project, add_member):
    viewer = add_member("viewer")
    project.refresh_from_db()

    response = list_tasks(client_for(viewer), project=project.pk)

    assert response["X-Event-Seq"] == str(project.event_seq)


def test_event_seq_header_is_sent_with_other_filters(client, project):
    response = list_tasks(client, project=project.pk, status="done", page_size=1)

    assert response["X-Event-Seq"] == "1"


def test_no_event_seq_header_without_project_filter(client, project):
    make_task(project=project)

    response = list_tasks(client)

    assert response.status_code == 200
    assert "X-Event-Seq" not in response


def test_no_event_seq_header_for_a_foreign_project(client, project):
    foreign = services.project_create(actor=UserFactory(), name="Foreign")

    response = list_tasks(client, project=foreign.pk)

    assert response.status_code == 200
    assert "X-Event-Seq" not in response


def test_no_event_seq_header_for_a_missing_project(client, project):
    response = list_tasks(client, project=999999999)

    assert response.status_code == 200
    assert "X-Event-Seq" not in response
