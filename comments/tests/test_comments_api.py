"""Comments API: `/api/tasks/{id}/comments/` and `/api/comments/{id}/` against the contract.

What a client notices: statuses and bodies, the rows stored, who may do what, bad input refused
with nothing stored, `@username` mentions resolved to member ids, the `comment.*` events in the
feed with their activity entries, what deleting a task or a user does to its comments, the payload
equal to the serializer's declared fields, and the statements the list costs.
"""

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from comments.models import Comment
from comments.payloads import CommentPayload, comment_payload
from comments.serializers import CommentSerializer
from tasks import services
from tasks.models import Project
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

COMMENT_FIELDS = ["id", "task", "project", "author", "body", "mentions", "created_at", "updated_at"]
JSON = "application/json"


@pytest.fixture
def task(project):
    return make_task(project=project, title="Write docs")


def comments_url(task) -> str:
    return f"/api/tasks/{task.pk}/comments/"


def comment_url(comment_id: int) -> str:
    return f"/api/comments/{comment_id}/"


def post_comment(client, task, body) -> dict:
    response = client.post(comments_url(task), {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def current_seq(project: Project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


def events_after(client, project: Project, seq: int) -> list[dict]:
    response = client.get(f"/api/projects/{project.pk}/events/?since={seq}")
    assert response.status_code == 200
    return response.json()["events"]


def stored(comment_id: int) -> tuple:
    return Comment.objects.values_list("body", "author_id", "mentions").get(pk=comment_id)


@pytest.fixture
def member(add_member):
    return add_member("member")


@pytest.fixture
def members_comment(client_for, member, task) -> dict:
    """A comment written by `member` on `task`."""
    return post_comment(client_for(member), task, "Written by a member")


# --- Create, list, read, change, delete -----------------------------------------------------------


def test_create_answers_201_with_the_comment(client, user, project, task):
    response = client.post(comments_url(task), {"body": "Looks good"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert list(body) == COMMENT_FIELDS
    assert {name: body[name] for name in ("task", "project", "author", "body", "mentions")} == {
        "task": task.pk,
        "project": project.pk,
        "author": user.pk,
        "body": "Looks good",
        "mentions": [],
    }
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")


def test_create_stores_the_comment(client, user, project, task):
    body = post_comment(client, task, "Looks good")

    comment = Comment.objects.get(pk=body["id"])
    assert (comment.task_id, comment.project_id, comment.author_id, comment.body) == (
        task.pk,
        project.pk,
        user.pk,
        "Looks good",
    )


def test_create_ignores_read_only_fields(client, user, project, task):
    other_task = make_task(project=project, title="Other")
    response = client.post(
        comments_url(task),
        {"body": "Mine", "id": 999_999, "task": other_task.pk, "author": UserFactory().pk, "mentions": [1, 2]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["task"], body["author"], body["mentions"]) == (task.pk, user.pk, [])
    assert body["id"] != 999_999


def test_list_is_paginated_oldest_first(client, task):
    ids = [post_comment(client, task, f"Comment {index}")["id"] for index in range(3)]

    first = client.get(f"{comments_url(task)}?page_size=2")
    assert first.status_code == 200
    page = first.json()
    assert list(page) == ["next", "previous", "results"]
    assert [comment["id"] for comment in page["results"]] == ids[:2]
    assert page["previous"] is None and page["next"] is not None

    second = client.get(page["next"]).json()
    assert [comment["id"] for comment in second["results"]] == ids[2:]
    assert second["next"] is None and second["previous"] is not None


def test_list_entries_are_the_comments_as_created(client, task):
    created = post_comment(client, task, "The only one")

    assert client.get(comments_url(task)).json()["results"] == [created]


def test_list_shows_only_the_tasks_own_comments(client, project, task):
    other_task = make_task(project=project, title="Other")
    post_comment(client, other_task, "Elsewhere")
    mine = post_comment(client, task, "Here")

    assert [comment["id"] for comment in client.get(comments_url(task)).json()["results"]] == [mine["id"]]


def test_list_of_a_task_without_comments_is_empty(client, task):
    assert client.get(comments_url(task)).json() == {"next": None, "previous": None, "results": []}


def test_get_answers_the_comment(client, task):
    created = post_comment(client, task, "Read me")

    response = client.get(comment_url(created["id"]))

    assert response.status_code == 200
    assert response.json() == created


def test_patch_changes_the_body(client, task):
    created = post_comment(client, task, "Draft")

    response = client.patch(comment_url(created["id"]), {"body": "Final"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["body"], body["created_at"]) == (created["id"], "Final", created["created_at"])
    assert body["updated_at"] >= created["updated_at"]
    assert stored(created["id"])[0] == "Final"
    assert client.get(comment_url(created["id"])).json() == body


def test_delete_answers_204_and_removes_the_row(client, task):
    created = post_comment(client, task, "Short-lived")

    response = client.delete(comment_url(created["id"]))

    assert response.status_code == 204
    assert not Comment.objects.filter(pk=created["id"]).exists()
    assert client.get(comment_url(created["id"])).status_code == 404


def test_comments_of_a_missing_task_are_404(client, project):
    assert client.get("/api/tasks/999999/comments/").status_code == 404
    assert client.post("/api/tasks/999999/comments/", {"body": "Hello"}, format="json").status_code == 404
    assert not Comment.objects.exists()


def test_missing_comment_is_404(client, project):
    assert client.get(comment_url(999_999)).status_code == 404
    assert client.patch(comment_url(999_999), {"body": "x"}, format="json").status_code == 404
    assert client.delete(comment_url(999_999)).status_code == 404


# --- Who may do what ------------------------------------------------------------------------------


def test_viewer_lists_comments(client_for, add_member, client, task):
    created = post_comment(client, task, "For everyone")
    viewer = add_member("viewer")

    response = client_for(viewer).get(comments_url(task))

    assert response.status_code == 200
    assert response.json()["results"] == [created]
    assert client_for(viewer).get(comment_url(created["id"])).json() == created


def test_viewer_cannot_comment(client_for, add_member, task):
    viewer = add_member("viewer")

    response = client_for(viewer).post(comments_url(task), {"body": "Let me in"}, format="json")

    assert response.status_code == 403
    assert not Comment.objects.exists()


@pytest.mark.parametrize("role", ["member", "admin"])
def test_members_and_admins_comment(client_for, add_member, task, role):
    writer = add_member(role)

    response = client_for(writer).post(comments_url(task), {"body": "Me too"}, format="json")

    assert response.status_code == 201
    assert stored(response.json()["id"])[:2] == ("Me too", writer.pk)


@pytest.mark.parametrize("role", ["member", "admin", "viewer"])
def test_only_the_author_edits(client_for, add_member, members_comment, role):
    other = add_member(role)

    response = client_for(other).patch(comment_url(members_comment["id"]), {"body": "Rewritten"}, format="json")

    assert response.status_code == 403
    assert stored(members_comment["id"])[0] == "Written by a member"


def test_the_owner_cannot_edit_a_members_comment(client, members_comment):
    response = client.patch(comment_url(members_comment["id"]), {"body": "Rewritten"}, format="json")

    assert response.status_code == 403
    assert stored(members_comment["id"])[0] == "Written by a member"


def test_author_demoted_to_viewer_can_no_longer_edit(client_for, project, member, members_comment):
    membership = project.memberships.get(user=member)
    services.member_change_role(
        project=project, actor=project.owner, membership=membership, role="viewer", operator=True
    )

    response = client_for(member).patch(comment_url(members_comment["id"]), {"body": "Rewritten"}, format="json")

    assert response.status_code == 403
    assert stored(members_comment["id"])[0] == "Written by a member"


def test_author_deletes_their_comment(client_for, member, members_comment):
    assert client_for(member).delete(comment_url(members_comment["id"])).status_code == 204
    assert not Comment.objects.filter(pk=members_comment["id"]).exists()


def test_admin_deletes_a_members_comment(client_for, add_member, members_comment):
    admin = add_member("admin")

    assert client_for(admin).delete(comment_url(members_comment["id"])).status_code == 204
    assert not Comment.objects.filter(pk=members_comment["id"]).exists()


def test_owner_deletes_a_members_comment(client, members_comment):
    assert client.delete(comment_url(members_comment["id"])).status_code == 204
    assert not Comment.objects.filter(pk=members_comment["id"]).exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_other_members_and_viewers_cannot_delete(client_for, add_member, members_comment, role):
    other = add_member(role)

    assert client_for(other).delete(comment_url(members_comment["id"])).status_code == 403
    assert Comment.objects.filter(pk=members_comment["id"]).exists()


@pytest.fixture
def outsider(db):
    """A user of another project of their own, not a member of `project`."""
    someone = UserFactory()
    services.project_create(actor=someone, name="Elsewhere")
    return someone


def test_another_projects_user_gets_404_on_the_tasks_comments(client_for, outsider, client, task):
    post_comment(client, task, "Private")
    stranger = client_for(outsider)

    assert stranger.get(comments_url(task)).status_code == 404
    assert stranger.post(comments_url(task), {"body": "Hi"}, format="json").status_code == 404
    assert Comment.objects.count() == 1


def test_another_projects_user_gets_404_on_the_comment(client_for, outsider, client, task):
    created = post_comment(client, task, "Private")
    stranger = client_for(outsider)

    assert stranger.get(comment_url(created["id"])).status_code == 404
    assert stranger.patch(comment_url(created["id"]), {"body": "Mine now"}, format="json").status_code == 404
    assert stranger.delete(comment_url(created["id"])).status_code == 404
    assert stored(created["id"]) == ("Private", created["author"], [])


def test_unauthenticated_requests_are_401(api_client, client, task):
    created = post_comment(client, task, "Members only")

    assert api_client.get(comments_url(task)).status_code == 401
    assert api_client.post(comments_url(task), {"body": "Anonymous"}, format="json").status_code == 401
    assert api_client.get(comment_url(created["id"])).status_code == 401
    assert api_client.patch(comment_url(created["id"]), {"body": "x"}, format="json").status_code == 401
    assert api_client.delete(comment_url(created["id"])).status_code == 401
    assert list(Comment.objects.values_list("body", flat=True)) == ["Members only"]


# --- Bad input ------------------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param({}, id="missing"),
    pytest.param({"body": ""}, id="empty"),
    pytest.param({"body": "   "}, id="spaces-only"),
    pytest.param({"body": "\n\t "}, id="whitespace-only"),
    pytest.param({"body": "x" * 10_001}, id="10001-characters"),
    pytest.param({"body": 7}, id="number"),
    pytest.param({"body": ["a list"]}, id="list"),
    pytest.param({"body": {"text": "an object"}}, id="object"),
    pytest.param({"body": None}, id="null"),
    pytest.param({"body": "nul \x00 character"}, id="nul-character"),
]


@pytest.mark.parametrize("data", BAD_BODIES)
def test_bad_body_on_create_is_400_and_stores_nothing(client, project, task, data):
    seq = current_seq(project)

    response = client.post(comments_url(task), data, format="json")

    assert response.status_code == 400, response.content
    assert "body" in response.json()
    assert not Comment.objects.exists()
    assert current_seq(project) == seq


@pytest.mark.parametrize("data", [param for param in BAD_BODIES if param.id != "missing"])
def test_bad_body_on_patch_is_400_and_changes_nothing(client, project, task, data):
    created = post_comment(client, task, "Unchanged")
    seq = current_seq(project)

    response = client.patch(comment_url(created["id"]), data, format="json")

    assert response.status_code == 400, response.content
    assert stored(created["id"])[0] == "Unchanged"
    assert current_seq(project) == seq


@pytest.mark.parametrize("raw", ['["Looks good"]', '"Looks good"', "42", "null", '{"body": '])
def test_request_body_that_is_not_a_json_object_is_400(client, task, raw):
    response = client.generic("POST", comments_url(task), raw, content_type=JSON)

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert not Comment.objects.exists()


def test_body_of_10000_characters_is_accepted(client, task):
    text = "y" * 10_000

    body = post_comment(client, task, text)

    assert body["body"] == text
    assert stored(body["id"])[0] == text


def test_the_limit_counts_characters_not_bytes(client, task):
    text = "🎉" * 10_000  # four bytes each in UTF-8

    body = post_comment(client, task, text)

    assert stored(body["id"])[0] == text
    assert client.post(comments_url(task), {"body": text + "🎉"}, format="json").status_code == 400


def test_body_is_stored_exactly_as_written(client, task):
    text = "  Indented, with trailing spaces  \n\n  and Ünïcode ✓  "

    body = post_comment(client, task, text)

    assert body["body"] == text
    assert stored(body["id"])[0] == text
    assert client.get(comment_url(body["id"])).json()["body"] == text


def test_patch_keeps_surrounding_spaces_too(client, task):
    created = post_comment(client, task, "Plain")

    response = client.patch(comment_url(created["id"]), {"body": "  padded  "}, format="json")

    assert response.json()["body"] == "  padded  "
    assert stored(created["id"])[0] == "  padded  "


# --- Mentions -------------------------------------------------------------------------------------


@pytest.fixture
def ada(project):
    person = UserFactory(username="ada")
    services.member_add(project=project, actor=project.owner, user=person.pk, operator=True)
    return person


@pytest.fixture
def grace(project):
    person = UserFactory(username="Grace")
    services.member_add(project=project, actor=project.owner, user=person.pk, operator=True)
    return person


@pytest.fixture
def nonmember(db):
    return UserFactory(username="nonmember")


def mentions_of(client, task, body: str) -> list[int]:
    created = post_comment(client, task, body)
    assert stored(created["id"])[2] == created["mentions"]
    return created["mentions"]


def test_mention_of_a_member_is_their_id(client, task, ada):
    assert mentions_of(client, task, "@ada please review") == [ada.pk]


@pytest.mark.parametrize("written", ["@ADA", "@Ada", "@aDa"])
def test_mention_ignores_case(client, task, ada, written):
    assert mentions_of(client, task, f"{written} please review") == [ada.pk]


def test_mention_in_lower_case_of_a_capitalised_username(client, task, grace):
    assert mentions_of(client, task, "ping @grace") == [grace.pk]


def test_mentions_are_in_order_of_first_mention_without_duplicates(client, task, ada, grace):
    assert mentions_of(client, task, "@Grace then @ada, then @GRACE again and @ada") == [grace.pk, ada.pk]


def test_mention_of_a_non_member_is_ignored(client, task, ada, nonmember):
    assert mentions_of(client, task, "@nonmember and @nobody-at-all, and @ada") == [ada.pk]


def test_email_address_is_not_a_mention(client, task, ada):
    assert mentions_of(client, task, "write to ada@example.com") == []


def test_a_name_that_goes_on_in_another_script_is_not_a_shorter_members(client, task, project, ada):
    # Usernames are ASCII; "@adaé" is nobody, not ada.
    jos = UserFactory(username="jos")
    services.member_add(project=project, actor=project.owner, user=jos.pk, operator=True)
    assert mentions_of(client, task, "thanks @josé and @adaé, and @ada") == [ada.pk]


@pytest.mark.parametrize(
    "text",
    ["thanks @ada.", "@ada, can you look?", "(@ada)", "@ada: done", "@ada!", "done, @ada?", "@ada-", "@ada's idea"],
)
def test_mention_followed_by_punctuation_resolves(client, task, ada, text):
    assert mentions_of(client, task, text) == [ada.pk]


def test_author_mentioning_themself_is_listed(client, user, task):
    assert mentions_of(client, task, f"note to self, @{user.username}") == [user.pk]


def test_mentions_are_worked_out_again_on_patch(client, task, ada, grace):
    created = post_comment(client, task, "@ada first")

    response = client.patch(comment_url(created["id"]), {"body": "@grace instead"}, format="json")

    assert response.json()["mentions"] == [grace.pk]
    assert stored(created["id"])[2] == [grace.pk]


def test_mention_of_a_member_who_left_goes_on_the_next_save(client, project, task, ada, grace):
    created = post_comment(client, task, "@ada and @grace")
    services.member_remove(
        project=project, actor=project.owner, membership=project.memberships.get(user=ada), operator=True
    )

    response = client.patch(comment_url(created["id"]), {"body": "@ada and @grace, again"}, format="json")

    assert response.json()["mentions"] == [grace.pk]


def test_member_of_another_project_is_not_a_mention(client, task, outsider):
    assert mentions_of(client, task, f"@{outsider.username}") == []


# --- Events and activity --------------------------------------------------------------------------


def test_create_records_comment_created_with_the_comment(client, user, project, task):
    seq = current_seq(project)

    created = post_comment(client, task, "Event me")

    [event] = events_after(client, project, seq)
    assert (event["seq"], event["type"], event["actor"]) == (seq + 1, "comment.created", user.pk)
    assert event["data"] == created == client.get(comment_url(created["id"])).json()


def test_patch_records_comment_updated_with_the_comment(client, user, project, task):
    created = post_comment(client, task, "Before")
    seq = current_seq(project)

    changed = client.patch(comment_url(created["id"]), {"body": "After"}, format="json").json()

    [event] = events_after(client, project, seq)
    assert (event["seq"], event["type"], event["actor"]) == (seq + 1, "comment.updated", user.pk)
    assert event["data"] == changed == client.get(comment_url(created["id"])).json()


def test_patch_that_changes_nothing_records_nothing(client, project, task):
    created = post_comment(client, task, "Same")
    seq = current_seq(project)

    response = client.patch(comment_url(created["id"]), {"body": "Same"}, format="json")

    assert response.status_code == 200
    assert response.json() == created
    assert events_after(client, project, seq) == []


def test_delete_records_comment_deleted_with_the_comment_as_it_was(client_for, add_member, member, project, task):
    created = post_comment(client_for(member), task, "Remove me @nobody")
    admin = add_member("admin")
    before = client_for(admin).get(comment_url(created["id"])).json()
    seq = current_seq(project)

    client_for(admin).delete(comment_url(created["id"]))

    [event] = events_after(client_for(admin), project, seq)
    assert (event["seq"], event["type"], event["actor"]) == (seq + 1, "comment.deleted", admin.pk)
    assert event["data"] == before


def test_create_update_delete_have_consecutive_seqs(client, project, task):
    seq = current_seq(project)

    created = post_comment(client, task, "One")
    client.patch(comment_url(created["id"]), {"body": "Two"}, format="json")
    client.delete(comment_url(created["id"]))

    events = events_after(client, project, seq)
    assert [(event["seq"], event["type"]) for event in events] == [
        (seq + 1, "comment.created"),
        (seq + 2, "comment.updated"),
        (seq + 3, "comment.deleted"),
    ]
    assert {event["data"]["id"] for event in events} == {created["id"]}


def task_activity(client, task) -> list[dict]:
    response = client.get(f"/api/tasks/{task.pk}/activity/")
    assert response.status_code == 200
    return response.json()["results"]


def test_activity_records_each_change_of_a_comment(client, user, project, task, ada, grace):
    created = post_comment(client, task, "Hello @ada")
    client.patch(comment_url(created["id"]), {"body": "Hello @grace"}, format="json")
    client.delete(comment_url(created["id"]))

    entries = task_activity(client, task)

    assert [entry["kind"] for entry in entries] == [
        "comment.deleted",
        "comment.updated",
        "comment.created",
        "task.created",
    ]
    deleted, updated, made = entries[:3]
    assert made["changes"] == {"author": [None, user.pk], "body": [None, "Hello @ada"], "mentions": [None, [ada.pk]]}
    assert updated["changes"] == {"body": ["Hello @ada", "Hello @grace"], "mentions": [[ada.pk], [grace.pk]]}
    assert deleted["changes"] == {
        "author": [user.pk, None],
        "body": ["Hello @grace", None],
        "mentions": [[grace.pk], None],
    }
    for entry in entries[:3]:
        assert (entry["project"], entry["task"], entry["actor"]) == (project.pk, task.pk, user.pk)


def test_activity_of_an_edit_lists_only_what_changed(client, task, ada):
    created = post_comment(client, task, "Hello @ada")
    client.patch(comment_url(created["id"]), {"body": "Hello again @ada"}, format="json")

    latest = task_activity(client, task)[0]

    assert (latest["kind"], latest["changes"]) == ("comment.updated", {"body": ["Hello @ada", "Hello again @ada"]})


def test_comment_activity_is_in_the_projects_activity_too(client, project, task):
    post_comment(client, task, "Visible")

    [latest] = client.get(f"/api/projects/{project.pk}/activity/?page_size=1").json()["results"]

    assert (latest["kind"], latest["task"]) == ("comment.created", task.pk)


# --- Deleting the task or the author ---------------------------------------------------------------


def test_deleting_the_task_deletes_its_comments_without_comment_events(client, project, task):
    ids = [post_comment(client, task, f"Comment {index}")["id"] for index in range(2)]
    other_task = make_task(project=project, title="Stays")
    survivor = post_comment(client, other_task, "Stays too")
    seq = current_seq(project)

    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204

    assert not Comment.objects.filter(pk__in=ids).exists()
    assert Comment.objects.filter(pk=survivor["id"]).exists()
    assert [(event["type"], event["data"]["id"]) for event in events_after(client, project, seq)] == [
        ("task.deleted", task.pk)
    ]


def test_deleting_a_user_keeps_their_comments_without_an_author(client, client_for, user, project, task, member):
    other_task = make_task(project=project, title="Second")
    writer = client_for(member)
    ids = [post_comment(writer, task, "First")["id"], post_comment(writer, other_task, "Second")["id"]]
    kept = post_comment(client, task, "The owner's")
    seq = current_seq(project)

    user_delete(user=member, actor=user)

    assert [stored(comment_id)[:2] for comment_id in ids] == [("First", None), ("Second", None)]
    assert stored(kept["id"])[1] == user.pk
    updated = [event for event in events_after(client, project, seq) if event["type"] == "comment.updated"]
    assert sorted(event["data"]["id"] for event in updated) == ids
    for event in updated:
        assert event["data"]["author"] is None
        assert event["data"] == client.get(comment_url(event["data"]["id"])).json()


def test_deleting_a_user_records_the_lost_author_in_the_activity(client, user, task, member, members_comment):
    member_id = member.pk
    user_delete(user=member, actor=user)

    [entry] = [entry for entry in task_activity(client, task) if entry["kind"] == "comment.updated"]

    assert (entry["actor"], entry["changes"]) == (user.pk, {"author": [member_id, None]})


def test_a_deleted_authors_comment_can_still_be_deleted_by_the_owner(client, user, member, members_comment):
    user_delete(user=member, actor=user)

    assert client.delete(comment_url(members_comment["id"])).status_code == 204
    assert not Comment.objects.filter(pk=members_comment["id"]).exists()


# --- The payload is what the serializer declares --------------------------------------------------


def rendered_by_the_fields(instance) -> dict:
    """What DRF renders from CommentSerializer's fields, bypassing its to_representation override."""
    return serializers.ModelSerializer.to_representation(CommentSerializer(instance), instance)


@pytest.mark.parametrize(
    "body",
    ["Plain", '  spaced, Ünïcode ✓ and "quotes"  ', "@ada and @Grace"],
    ids=["plain", "unicode", "mentions"],
)
def test_comment_payload_matches_the_serializer_fields(client, task, ada, grace, body):
    created = post_comment(client, task, body)
    comment = Comment.objects.get(pk=created["id"])

    assert comment_payload(comment) == rendered_by_the_fields(comment) == created
    assert list(comment_payload(comment)) == list(CommentPayload.__annotations__)


def test_comment_payload_without_an_author_matches_the_serializer_fields(client, user, member, members_comment):
    user_delete(user=member, actor=user)
    comment = Comment.objects.get(pk=members_comment["id"])

    assert comment.author_id is None
    assert comment_payload(comment) == rendered_by_the_fields(comment)


# --- Statements per request -----------------------------------------------------------------------

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def statements_of(client, path: str) -> list[str]:
    """The statements a GET runs, with those it runs after its commit, transaction control aside."""
    with CaptureQueriesContext(connection) as queries, TestCase.captureOnCommitCallbacks(execute=True):
        response = client.get(path)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(TRANSACTION_CONTROL)]


@pytest.mark.parametrize("count", [2, 20])
def test_comment_list_costs_two_statements_whatever_the_number_of_comments(client, task, ada, count):
    for index in range(count):
        assert post_comment(client, task, f"Comment {index} @ada")["mentions"] == [ada.pk]

    queries = statements_of(client, f"{comments_url(task)}?page_size=50")

    # The task with the caller's role and row (authentication); the page of comments.
    assert len(queries) == 2, queries


def test_comment_detail_costs_two_statements(client, task):
    created = post_comment(client, task, "One")
    post_comment(client, task, "Two")

    queries = statements_of(client, comment_url(created["id"]))

    # The caller's row (authentication); the comment with the caller's role in its project.
    assert len(queries) == 2, queries
