"""No account enumeration: whether an account has an email address (or a username) never shows in
an answer of the password reset, the invitations or the user lookup.

For each, the address of an account and an address of nobody's get the same status, the same body
(up to the ids and times of the objects made) and the same SQL statements, and take time of the
same class: the median of interleaved runs within a small factor. The statements are the reliable
half (the same work is done); the timing half catches work done outside the database, such as
sending an email or hashing a password in the request.
"""

import re
import statistics
import time

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROUNDS = 15
# A median may be this many times the other's (plus a millisecond of scheduling noise); the work
# an existing account could add (an email, a password hash) costs far more than that.
TIMING_FACTOR = 1.6


@pytest.fixture
def ada(db):
    """An account nobody else shares a project with: its address and name are what is probed."""
    return UserFactory(username="ada.lovelace", email="ada@example.com", first_name="Ada")


def shape(body):
    """A response body with the values that differ between any two objects (ids, times) blanked."""
    if isinstance(body, dict):
        return {key: None if key in {"id", "created_at", "expires_at"} else shape(value) for key, value in body.items()}
    if isinstance(body, list):
        return [shape(item) for item in body]
    return body


def statements(call) -> list[str]:
    """The SQL one call runs, with literal values (ids, addresses, times) and savepoint names
    taken out."""
    with CaptureQueriesContext(connection) as queries:
        call()
    return [
        re.sub(r"\bs\d+_x\d+\b", "<savepoint>", query["sql"].split(" WHERE ")[0].split(" VALUES ")[0])
        for query in queries.captured_queries
    ]


def assert_same_timing_class(known, unknown) -> None:
    """Interleave ROUNDS calls of each and compare their medians."""
    times = {known: [], unknown: []}
    for _ in range(ROUNDS):
        for call in (known, unknown):
            started = time.perf_counter()
            call()
            times[call].append(time.perf_counter() - started)
    a, b = statistics.median(times[known]), statistics.median(times[unknown])
    assert max(a, b) <= min(a, b) * TIMING_FACTOR + 0.001, f"medians {a * 1000:.2f} ms and {b * 1000:.2f} ms"


# --- Password reset -----------------------------------------------------------------------------------


def reset(address: str):
    return lambda: APIClient().post("/api/auth/password/reset/", {"email": address})


def test_a_reset_answers_an_accounts_address_as_it_answers_nobodys(ada):
    known, unknown = reset("ada@example.com")(), reset("nobody@example.com")()

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert statements(reset("ada@example.com")) == statements(reset("nobody@example.com"))
    assert mail.outbox == []  # the email is the worker's, not the request's


def test_a_reset_takes_as_long_for_an_accounts_address_as_for_nobodys(ada, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # no throttle
    assert_same_timing_class(reset("ada@example.com"), reset("nobody@example.com"))


# --- Invitations --------------------------------------------------------------------------------------


def test_inviting_an_accounts_address_answers_as_inviting_nobodys(client, project, ada):
    invite = lambda address: client.post(f"/api/projects/{project.pk}/invitations/", {"email": address})  # noqa: E731

    known, unknown = invite("ada@example.com"), invite("nobody@example.com")

    assert known.status_code == unknown.status_code == 201
    assert shape(known.json()) == {**shape(unknown.json()), "email": "ada@example.com"}


def inviter(client, project, prefix: str):
    """A call that invites a new address `<prefix><n>@example.com` each time (an address with a
    pending invitation cannot be invited again)."""
    counter = iter(range(1_000))

    def call():
        response = client.post(
            f"/api/projects/{project.pk}/invitations/", {"email": f"{prefix}{next(counter)}@example.com"}
        )
        assert response.status_code == 201, response.content

    return call


def test_inviting_an_accounts_address_does_the_same_work_and_takes_as_long_as_nobodys(client, project):
    for n in range(ROUNDS + 1):
        UserFactory(email=f"someone{n}@example.com")
    known, unknown = inviter(client, project, "someone"), inviter(client, project, "nobody")

    assert statements(known) == statements(unknown)
    assert_same_timing_class(known, unknown)


def test_accepting_a_bad_token_answers_the_same_whatever_became_of_it(
    client, client_for, project, django_capture_on_commit_callbacks
):
    def invitation_with_token(address: str):
        """An invitation of `address` and its token, from the email its commit sends."""
        with django_capture_on_commit_callbacks(execute=True):
            invitation = client.post(f"/api/projects/{project.pk}/invitations/", {"email": address}).json()
        body = [message for message in mail.outbox if message.to == [address]][-1].body
        return invitation, next(line.strip() for line in body.splitlines() if line.startswith("    "))

    def accept(token: str):
        return client_for(UserFactory()).post("/api/invitations/accept/", {"token": token})

    _, used = invitation_with_token("bo@example.com")
    assert accept(used).status_code == 200
    revoked_invitation, revoked = invitation_with_token("cy@example.com")
    assert client.delete(f"/api/projects/{project.pk}/invitations/{revoked_invitation['id']}/").status_code == 204

    answers = [accept(token) for token in (used, revoked, "x" * 43)]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert answers[0].json() == answers[1].json() == answers[2].json()


# --- User lookup ---------------------------------------------------------------------------------------


def lookup(client, search: str):
    return lambda: client.get("/api/users/", {"search": search})


def test_looking_up_an_outsiders_name_answers_as_looking_up_nobodys(client, project, ada):
    for search in ("ada.lovelace", "Ada", "ada@example.com"):
        known, unknown = lookup(client, search)(), lookup(client, "zz-nobody")()
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (200, unknown.json())
        assert known.json()["results"] == []


def test_looking_up_an_outsiders_name_does_the_same_work_and_takes_as_long(client, project, ada):
    known, unknown = lookup(client, "ada.lovelace"), lookup(client, "zz-nobody")

    assert statements(known) == statements(unknown)
    assert_same_timing_class(known, unknown)
