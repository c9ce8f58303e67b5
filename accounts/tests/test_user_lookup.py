"""`GET /api/users/?search=`: the people a caller shares a project with, found by name, without
their email address; nobody else, whatever the search."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from tasks import services
from tasks.models import Project
from tasks.tests.test_work_per_request import statements

pytestmark = pytest.mark.django_db

USERS = "/api/users/"


def person(username: str, **names):
    return UserFactory(username=username, email=f"{username}@example.com", **names)


def join(project, user, role: str = "member"):
    services.member_add(project=project, actor=project.owner, user=user.pk, role=role, operator=True)
    return user


def found(client, search: str, **params) -> list[str]:
    response = client.get(USERS, {"search": search, **params})
    assert response.status_code == 200, response.content
    return [entry["username"] for entry in response.json()["results"]]


@pytest.fixture
def ada(project):
    return join(project, person("ada.lovelace", first_name="Ada", last_name="Lovelace"))


@pytest.fixture
def outsider(db):
    """Someone in a project of their own, which the caller is not in."""
    someone = person("ada.outsider", first_name="Ada", last_name="Outsider")
    services.project_create(actor=someone, name="Elsewhere")
    return someone


def test_a_co_member_is_found_by_part_of_their_username(client, ada):
    assert found(client, "lovel") == ["ada.lovelace"]


@pytest.mark.parametrize("search", ["ADA", "ada", "aDa"])
def test_the_search_ignores_case(client, ada, search):
    assert found(client, search) == ["ada.lovelace"]


def test_a_co_member_is_found_by_first_or_last_name(client, project):
    join(project, person("u1", first_name="Grace", last_name="Hopper"))
    join(project, person("u2", first_name="Hedy", last_name="Lamarr"))

    assert found(client, "grac") == ["u1"]
    assert found(client, "lamar") == ["u2"]


def test_an_entry_has_no_email_address(client, ada):
    response = client.get(USERS, {"search": "lovelace"})

    assert response.json()["results"] == [
        {"id": ada.pk, "username": "ada.lovelace", "first_name": "Ada", "last_name": "Lovelace"}
    ]


def test_someone_in_no_shared_project_is_never_listed(client, ada, outsider):
    assert found(client, "ada") == ["ada.lovelace"]
    assert found(client, "outsider") == []
    assert found(client, outsider.username) == []


def test_a_user_in_no_project_at_all_is_never_listed(client):
    loner = person("loner")

    assert found(client, "loner") == []
    assert found(client, loner.username) == []


def test_sharing_a_project_is_what_counts_not_knowing_a_member(client, ada, outsider):
    """`outsider` shares a project with `ada`, who shares one with the caller: still not listed."""
    join(Project.objects.get(owner=outsider), ada)

    assert found(client, "outsider") == []


def test_a_caller_in_no_project_finds_nobody(client_for, ada):
    loner = person("loner")

    assert found(client_for(loner), "ada") == []
    assert found(client_for(loner), "loner") == []


def test_the_caller_finds_themself_among_their_co_members(client, user, ada):
    assert user.username in found(client, user.username)


def test_a_member_of_two_shared_projects_is_listed_once(client, user, project, ada):
    second = services.project_create(actor=user, name="Second")
    join(second, ada)

    assert found(client, "lovelace") == ["ada.lovelace"]


def test_viewers_are_co_members_too(client, project):
    join(project, person("watcher"), role="viewer")

    assert found(client, "watch") == ["watcher"]


def test_a_removed_member_is_no_longer_listed(client, project, ada):
    services.member_remove(
        project=project, actor=project.owner, membership=project.memberships.get(user=ada), operator=True
    )

    assert found(client, "lovelace") == []


def test_an_inactive_co_member_is_not_listed(client, ada):
    ada.is_active = False
    ada.save(update_fields=["is_active"])

    assert found(client, "lovelace") == []


def test_results_come_by_username_a_page_at_a_time(client, project):
    for username in ("team-c", "team-a", "team-b"):
        join(project, person(username))

    first = client.get(USERS, {"search": "team-", "page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert [entry["username"] for entry in first["results"]] == ["team-a", "team-b"]
    assert [entry["username"] for entry in second["results"]] == ["team-c"]
    assert second["next"] is None


@pytest.mark.parametrize("search", ["", "a", " a "])
def test_a_search_shorter_than_two_characters_is_a_400(client, ada, search):
    response = client.get(USERS, {"search": search})

    assert response.status_code == 400
    assert "search" in response.json()


def test_a_search_is_required(client, ada):
    response = client.get(USERS)

    assert response.status_code == 400
    assert "search" in response.json()


def test_a_search_longer_than_a_username_can_be_is_a_400(client):
    assert client.get(USERS, {"search": "a" * 151}).status_code == 400


def test_the_lookup_needs_a_login(api_client, ada):
    assert api_client.get(USERS, {"search": "ada"}).status_code == 401


def test_the_statements_do_not_grow_with_the_rows(client, project):
    def lookup_statements() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(USERS, {"search": "crowd"}).status_code == 200
        return statements(queries)

    join(project, person("crowd-0"))
    one = lookup_statements()
    for index in range(1, 30):
        join(project, person(f"crowd-{index}"))
    many = lookup_statements()

    # The caller's row (authentication), the page.
    assert len(one) == len(many) == 2, many
