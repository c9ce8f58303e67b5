"""The REST changes feed: `GET /api/projects/{id}/events/?since=&limit=`."""

from datetime import datetime

import pytest

from accounts.tests.factories import UserFactory
from realtime.models import Event
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def feed_url(project) -> str:
    return f"/api/projects/{project.pk}/events/"


@pytest.fixture
def five_events(project):
    """The project's log holds seqs 1..5: the owner joining, then four tasks created."""
    for index in range(4):
        make_task(project=project, title=f"Task {index}")
    project.refresh_from_db()
    assert project.event_seq == 5


def test_feed_answers_events_last_seq_and_has_more(client, project):
    response = client.get(feed_url(project))
    assert response.status_code == 200
    assert set(response.json()) == {"events", "last_seq", "has_more"}


def test_new_project_feed_starts_with_the_owner_joining_as_seq_1(client, project, user):
    body = client.get(feed_url(project)).json()
    [event] = body["events"]
    assert (event["seq"], event["type"], event["actor"], event["data"]["user"], event["data"]["role"]) == (
        1,
        "member.added",
        user.pk,
        user.pk,
        "owner",
    )
    assert (body["last_seq"], body["has_more"]) == (1, False)


def test_event_has_exactly_the_documented_fields(client, project):
    [event] = client.get(feed_url(project)).json()["events"]
    assert set(event) == {"seq", "project", "type", "actor", "at", "data"}
    assert event["project"] == project.pk


def test_event_time_is_iso_8601_in_utc(client, project):
    [event] = client.get(feed_url(project)).json()["events"]
    moment = datetime.fromisoformat(event["at"])
    assert moment.utcoffset().total_seconds() == 0


def test_feed_lists_events_in_seq_order(client, project, five_events):
    events = client.get(feed_url(project)).json()["events"]
    assert [event["seq"] for event in events] == [1, 2, 3, 4, 5]
    assert [event["type"] for event in events] == ["member.added"] + ["task.created"] * 4


def test_since_gives_only_later_events(client, project, five_events):
    body = client.get(feed_url(project), {"since": 3}).json()
    assert [event["seq"] for event in body["events"]] == [4, 5]
    assert (body["last_seq"], body["has_more"]) == (5, False)


def test_limit_cuts_the_page_and_says_there_is_more(client, project, five_events):
    body = client.get(feed_url(project), {"since": 1, "limit": 2}).json()
    assert [event["seq"] for event in body["events"]] == [2, 3]
    assert (body["last_seq"], body["has_more"]) == (3, True)


def test_following_last_seq_reads_the_whole_log_once(client, project, five_events):
    seen, since = [], 0
    while True:
        body = client.get(feed_url(project), {"since": since, "limit": 2}).json()
        seen += [event["seq"] for event in body["events"]]
        since = body["last_seq"]
        if not body["has_more"]:
            break
    assert seen == [1, 2, 3, 4, 5]


def test_limit_defaults_to_100(client, project):
    for index in range(100):
        make_task(project=project, title=f"Task {index}")
    body = client.get(feed_url(project)).json()
    assert len(body["events"]) == 100
    assert (body["last_seq"], body["has_more"]) == (100, True)


def test_limit_of_1000_is_accepted(client, project, five_events):
    response = client.get(feed_url(project), {"limit": 1000})
    assert response.status_code == 200
    assert len(response.json()["events"]) == 5


@pytest.mark.parametrize("limit", ["1001", "0", "-1", "abc", str(10**30)])
def test_unusable_limit_is_400_on_limit(client, project, limit):
    response = client.get(feed_url(project), {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", str(10**30)])
def test_unusable_since_is_400_on_since(client, project, since):
    response = client.get(feed_url(project), {"since": since})
    assert response.status_code == 400
    assert "since" in response.json()


def test_since_at_the_current_seq_gives_no_events(client, project, five_events):
    body = client.get(feed_url(project), {"since": 5}).json()
    assert body == {"events": [], "last_seq": 5, "has_more": False}


def test_since_past_the_current_seq_gives_no_events_and_echoes_since(client, project, five_events):
    body = client.get(feed_url(project), {"since": 42}).json()
    assert body == {"events": [], "last_seq": 42, "has_more": False}


def test_since_older_than_the_retained_log_is_410(client, project, five_events):
    Event.objects.filter(project=project, seq__lte=2).delete()
    response = client.get(feed_url(project), {"since": 1})
    assert response.status_code == 410
    assert "detail" in response.json()


def test_since_zero_after_pruning_is_410(client, project, five_events):
    Event.objects.filter(project=project, seq__lte=2).delete()
    assert client.get(feed_url(project)).status_code == 410


def test_since_at_the_last_pruned_seq_still_reads_the_rest(client, project, five_events):
    Event.objects.filter(project=project, seq__lte=2).delete()
    body = client.get(feed_url(project), {"since": 2}).json()
    assert [event["seq"] for event in body["events"]] == [3, 4, 5]


def test_since_current_seq_after_the_whole_log_was_pruned_is_empty_not_410(client, project, five_events):
    Event.objects.filter(project=project).delete()
    response = client.get(feed_url(project), {"since": 5})
    assert response.status_code == 200
    assert response.json() == {"events": [], "last_seq": 5, "has_more": False}


def test_since_behind_a_fully_pruned_log_is_410(client, project, five_events):
    Event.objects.filter(project=project).delete()
    assert client.get(feed_url(project), {"since": 4}).status_code == 410


def test_feed_of_a_foreign_project_is_404(client_for, project):
    stranger = client_for(UserFactory())
    response = stranger.get(feed_url(project))
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_feed_of_a_missing_project_is_404(client, project):
    assert client.get("/api/projects/999999/events/").status_code == 404


def test_feed_of_a_foreign_project_is_404_whatever_the_query(client_for, project):
    # Checking access first keeps bad parameters from revealing that the project exists.
    stranger = client_for(UserFactory())
    assert stranger.get(feed_url(project), {"limit": "abc"}).status_code == 404


def test_feed_needs_authentication(api_client, project):
    assert api_client.get(feed_url(project)).status_code == 401


def test_viewer_can_read_the_feed(client_for, project, add_member):
    viewer = add_member(role="viewer")
    body = client_for(viewer).get(feed_url(project)).json()
    assert [event["type"] for event in body["events"]] == ["member.added", "member.added"]


def test_removed_member_can_no_longer_read_the_feed(client_for, project, add_member):
    member = add_member()
    services.member_remove(
        project=project, actor=project.owner, membership=project.memberships.get(user=member), operator=True
    )
    assert client_for(member).get(feed_url(project)).status_code == 404


def test_feed_shows_only_its_own_project(client, project, user):
    other = services.project_create(actor=user, name="Other")
    make_task(project=other)
    events = client.get(feed_url(project)).json()["events"]
    assert {event["project"] for event in events} == {project.pk}
