"""Invitations as clients see them: invite by email, list, revoke, accept with the emailed token.

The email goes out once the invitation commits (the test runs the commit's callbacks, as the commit
would); its token is the only copy there is, so every acceptance here takes it from the outbox.
"""

import hashlib
import logging
import re
import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework import serializers

from accounts.tests.factories import UserFactory
from realtime.models import Activity, Event
from tasks import services
from tasks.models import Invitation, Membership
from tasks.payloads import invitation_payload
from tasks.serializers import InvitationSerializer

pytestmark = pytest.mark.django_db

ACCEPT = "/api/invitations/accept/"
TOKEN_IN_EMAIL = re.compile(r"^    (\S+)$", re.MULTILINE)


def invitations_url(project) -> str:
    return f"/api/projects/{project.pk}/invitations/"


@pytest.fixture
def invite(client, project, django_capture_on_commit_callbacks):
    """`invite(email, role="member", as_client=client)`: POST an invitation as that client, with
    its commit's callbacks run (the email); returns the response."""

    def post(email: str, role: str = "member", as_client=None):
        with django_capture_on_commit_callbacks(execute=True):
            return (as_client or client).post(invitations_url(project), {"email": email, "role": role})

    return post


def token_sent_to(address: str) -> str:
    """The token of the last invitation emailed to `address`."""
    [message] = [message for message in mail.outbox if message.to == [address]][-1:]
    return TOKEN_IN_EMAIL.search(message.body).group(1)


def events_of(project, *types: str) -> list[Event]:
    return list(Event.objects.filter(project=project, type__in=types).order_by("seq"))


# --- Inviting ---------------------------------------------------------------------------------------


def test_the_owner_invites_an_address_and_gets_the_invitation(invite, user, project):
    response = invite("ada@example.com", "viewer")

    assert response.status_code == 201
    body = response.json()
    invitation = Invitation.objects.get()
    assert set(body) == {"id", "email", "role", "invited_by", "created_at", "expires_at"}
    assert (body["id"], body["email"], body["role"], body["invited_by"]) == (
        invitation.pk,
        "ada@example.com",
        "viewer",
        user.pk,
    )
    assert body["created_at"].endswith("Z") and body["expires_at"].endswith("Z")


def test_an_invitation_expires_after_the_configured_days(invite, settings):
    settings.TASKFLOW_INVITATION_LIFETIME = timedelta(days=2)
    invite("ada@example.com")

    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=2)


def test_an_invitation_expires_after_seven_days_by_default(invite):
    invite("ada@example.com")

    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_the_invited_address_gets_one_email_with_the_token(invite, project):
    invite("ada@example.com")

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert project.name in message.subject
    token = token_sent_to("ada@example.com")
    assert len(token) >= 40
    assert "/api/invitations/accept/" in message.body


def test_only_the_tokens_hash_is_stored(invite):
    invite("ada@example.com")
    token = token_sent_to("ada@example.com")

    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(Invitation.objects.values()))
    assert token not in str(list(Event.objects.values("data")))
    assert token not in str(list(DBTaskResult.objects.values("args_kwargs")))


def test_the_email_goes_out_only_once_the_invitation_commits(client, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(invitations_url(project), {"email": "ada@example.com"})
        assert mail.outbox == []

    assert response.status_code == 201
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_an_invitation_records_an_event_with_the_invitation_and_no_history(invite, user, project):
    body = invite("ada@example.com").json()

    [event] = events_of(project, "invitation.created")
    assert (event.actor_id, event.data) == (user.pk, body)
    assert event.seq == project.events.order_by("-seq").first().seq
    assert not Activity.objects.filter(kind__startswith="invitation.").exists()


def test_the_invitation_event_is_in_the_changes_feed(invite, client, project):
    body = invite("ada@example.com").json()

    feed = client.get(f"/api/projects/{project.pk}/events/").json()

    assert [(event["type"], event["data"]) for event in feed["events"]][-1] == ("invitation.created", body)


def test_an_admin_invites_members_and_viewers(invite, client_for, add_member):
    admin = client_for(add_member("admin"))

    assert invite("ada@example.com", "member", as_client=admin).status_code == 201
    assert invite("grace@example.com", "viewer", as_client=admin).status_code == 201


def test_only_the_owner_invites_an_admin(invite, client_for, add_member):
    admin = client_for(add_member("admin"))

    refused = invite("ada@example.com", "admin", as_client=admin)

    assert refused.status_code == 403
    assert invite("ada@example.com", "admin").status_code == 201
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_may_not_invite(invite, client_for, add_member, role):
    response = invite("ada@example.com", as_client=client_for(add_member(role)))

    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_someone_outside_the_project_gets_404(invite, client_for):
    response = invite("ada@example.com", as_client=client_for(UserFactory()))

    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_inviting_to_a_project_that_does_not_exist_is_404(client):
    assert client.post("/api/projects/999999/invitations/", {"email": "ada@example.com"}).status_code == 404


def test_anonymous_callers_get_401(api_client, project):
    assert api_client.post(invitations_url(project), {"email": "ada@example.com"}).status_code == 401
    assert api_client.get(invitations_url(project)).status_code == 401


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "ada@example.com", "role": "owner"}, "role"),
        ({"email": "ada@example.com", "role": "boss"}, "role"),
        ({"email": "not-an-address"}, "email"),
        ({"role": "member"}, "email"),
        ({"email": 7}, "email"),
    ],
)
def test_an_invalid_invitation_is_400_on_its_field(client, project, data, field):
    response = client.post(invitations_url(project), data)

    assert response.status_code == 400
    assert field in response.json()
    assert not Invitation.objects.exists()


def test_the_role_is_member_by_default(invite, client, project):
    with_default = client.post(invitations_url(project), {"email": "ada@example.com"})

    assert (with_default.status_code, with_default.json()["role"]) == (201, "member")


def test_inviting_a_members_address_is_400(invite, project, add_member):
    member = add_member("viewer")

    response = invite(member.email.upper())

    assert response.status_code == 400
    assert "email" in response.json()
    assert mail.outbox == []


def test_inviting_an_address_with_a_pending_invitation_is_400(invite):
    invite("ada@example.com")

    response = invite("ADA@example.com", "viewer")

    assert response.status_code == 400
    assert "email" in response.json()
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_address_can_be_invited_again_once_its_invitation_was_revoked(invite, client, project):
    first = invite("ada@example.com").json()
    client.delete(f"{invitations_url(project)}{first['id']}/")

    assert invite("ada@example.com").status_code == 201


def test_an_address_can_be_invited_again_once_its_invitation_expired(invite):
    invite("ada@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert invite("ada@example.com").status_code == 201


# --- Listing ---------------------------------------------------------------------------------------


def test_the_list_shows_pending_invitations_newest_first(invite, client, project):
    invite("ada@example.com")
    invite("grace@example.com", "viewer")
    revoked = invite("alan@example.com").json()
    client.delete(f"{invitations_url(project)}{revoked['id']}/")
    invite("edsger@example.com")
    Invitation.objects.filter(email="edsger@example.com").update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(invitations_url(project))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [invitation["email"] for invitation in body["results"]] == ["grace@example.com", "ada@example.com"]
    assert body["results"][0] == invitation_payload(Invitation.objects.get(email="grace@example.com"))


def test_an_accepted_invitation_leaves_the_list(invite, client, client_for, project):
    invite("ada@example.com")
    client_for(UserFactory(email="ada@example.com")).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert client.get(invitations_url(project)).json()["results"] == []


def test_an_admin_sees_the_list(invite, client_for, add_member, project):
    invite("ada@example.com")
    admin = client_for(add_member("admin"))

    response = admin.get(invitations_url(project))

    assert response.status_code == 200
    assert [invitation["email"] for invitation in response.json()["results"]] == ["ada@example.com"]


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_may_not_see_the_list(invite, client_for, add_member, project, role):
    invite("ada@example.com")

    assert client_for(add_member(role)).get(invitations_url(project)).status_code == 403


def test_someone_outside_the_project_gets_404_for_the_list(client_for, project):
    assert client_for(UserFactory()).get(invitations_url(project)).status_code == 404


# --- Revoking --------------------------------------------------------------------------------------


def test_revoking_answers_204_and_keeps_the_row_as_revoked(invite, client, project):
    created = invite("ada@example.com").json()

    response = client.delete(f"{invitations_url(project)}{created['id']}/")

    assert response.status_code == 204
    assert response.content == b""
    assert Invitation.objects.get().revoked_at is not None


def test_revoking_records_an_event_with_the_invitation_as_it_was(invite, client, user, project):
    created = invite("ada@example.com").json()

    client.delete(f"{invitations_url(project)}{created['id']}/")

    [event] = events_of(project, "invitation.revoked")
    assert (event.actor_id, event.data) == (user.pk, created)
    assert not Activity.objects.filter(kind__startswith="invitation.").exists()


def test_revoking_twice_is_404_the_second_time(invite, client, project):
    created = invite("ada@example.com").json()
    client.delete(f"{invitations_url(project)}{created['id']}/")

    assert client.delete(f"{invitations_url(project)}{created['id']}/").status_code == 404
    assert len(events_of(project, "invitation.revoked")) == 1


def test_an_admin_revokes_a_member_invitation_but_not_an_admin_one(invite, client_for, add_member, project):
    member_invitation = invite("ada@example.com").json()
    admin_invitation = invite("grace@example.com", "admin").json()
    admin = client_for(add_member("admin"))

    assert admin.delete(f"{invitations_url(project)}{member_invitation['id']}/").status_code == 204
    assert admin.delete(f"{invitations_url(project)}{admin_invitation['id']}/").status_code == 403


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_may_not_revoke(invite, client_for, add_member, project, role):
    created = invite("ada@example.com").json()

    assert client_for(add_member(role)).delete(f"{invitations_url(project)}{created['id']}/").status_code == 403
    assert Invitation.objects.get().revoked_at is None


def test_another_projects_invitation_is_404(invite, client, user):
    created = invite("ada@example.com").json()
    other = services.project_create(actor=user, name="Other")

    assert client.delete(f"{invitations_url(other)}{created['id']}/").status_code == 404
    assert Invitation.objects.get().revoked_at is None


# --- Accepting -------------------------------------------------------------------------------------


def test_accepting_with_the_emailed_token_makes_a_member_with_the_role(invite, client_for, project):
    invite("ada@example.com", "viewer")
    ada = UserFactory(email="ada@example.com")

    response = client_for(ada).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 200
    assert response.json() == {"project": project.pk, "role": "viewer"}
    assert Membership.objects.get(project=project, user=ada).role == "viewer"
    invitation = Invitation.objects.get()
    assert (invitation.accepted_by, invitation.accepted_at is not None) == (ada, True)


def test_accepting_records_member_added_by_the_new_member(invite, client_for, project):
    invite("ada@example.com")
    ada = UserFactory(email="ada@example.com")

    client_for(ada).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    event = project.events.order_by("-seq").first()
    assert (event.type, event.actor_id, event.data["user"], event.data["role"]) == (
        "member.added",
        ada.pk,
        ada.pk,
        "member",
    )
    assert Activity.objects.filter(project=project, kind="member.added", actor=ada).exists()


def test_the_new_member_sees_the_project(invite, client_for, project):
    invite("ada@example.com")
    ada = client_for(UserFactory(email="ada@example.com"))

    ada.post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert ada.get(f"/api/projects/{project.pk}/").json()["role"] == "member"


def test_any_signed_in_user_holding_the_token_may_accept_it(invite, client_for, project):
    invite("ada@example.com")
    other_address = UserFactory(email="ada.at.home@example.org")

    response = client_for(other_address).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 200
    assert Membership.objects.filter(project=project, user=other_address).exists()


def test_a_token_works_once(invite, client_for, project):
    invite("ada@example.com")
    token = token_sent_to("ada@example.com")
    client_for(UserFactory()).post(ACCEPT, {"token": token})
    seq = project.events.order_by("-seq").first().seq

    again = client_for(UserFactory()).post(ACCEPT, {"token": token})

    assert again.status_code == 400
    assert "token" in again.json()
    assert project.events.order_by("-seq").first().seq == seq


def test_an_expired_token_is_400(invite, client_for, project):
    invite("ada@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    ada = UserFactory(email="ada@example.com")

    response = client_for(ada).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 400
    assert not Membership.objects.filter(project=project, user=ada).exists()


def test_a_revoked_token_is_400(invite, client, client_for, project):
    created = invite("ada@example.com").json()
    client.delete(f"{invitations_url(project)}{created['id']}/")
    ada = UserFactory(email="ada@example.com")

    response = client_for(ada).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 400
    assert not Membership.objects.filter(project=project, user=ada).exists()


def test_an_unknown_token_is_400(client):
    response = client.post(ACCEPT, {"token": "no-such-token"})

    assert response.status_code == 400
    assert "token" in response.json()


def test_a_token_of_a_deleted_project_is_400(invite, client, client_for, project):
    invite("ada@example.com")
    client.delete(f"/api/projects/{project.pk}/")

    response = client_for(UserFactory()).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 400


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 12345}, {"token": "x" * 129}])
def test_a_missing_or_malformed_token_is_400(client, body):
    response = client.post(ACCEPT, body)

    assert response.status_code == 400
    assert "token" in response.json()


def test_a_member_accepting_is_400_and_the_invitation_stays_pending(invite, client_for, add_member, project):
    invite("ada@example.com")
    member = add_member("viewer")

    response = client_for(member).post(ACCEPT, {"token": token_sent_to("ada@example.com")})

    assert response.status_code == 400
    assert Membership.objects.get(project=project, user=member).role == "viewer"
    invitation = Invitation.objects.get()
    assert (invitation.accepted_at, invitation.revoked_at) == (None, None)


def test_accepting_needs_a_signed_in_user(invite, api_client):
    invite("ada@example.com")

    assert api_client.post(ACCEPT, {"token": token_sent_to("ada@example.com")}).status_code == 401
    assert Invitation.objects.get().accepted_at is None


# --- Secrets and shapes ----------------------------------------------------------------------------


def test_no_log_record_holds_the_token(invite, client, client_for, project, caplog):
    caplog.set_level(logging.DEBUG)
    invite("ada@example.com")
    token = token_sent_to("ada@example.com")
    user = UserFactory()
    client_for(user).post(ACCEPT, {"token": token})
    client_for(UserFactory()).post(ACCEPT, {"token": token})  # a 400, logged as a client error

    assert caplog.records
    assert not [record for record in caplog.records if token in record.getMessage() or token in str(record.args)]


def test_a_failed_email_is_logged_without_the_token(invite, settings, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }

    response = invite("ada@example.com")

    assert response.status_code == 201
    invitation = Invitation.objects.get()
    assert f"Could not email invitation {invitation.pk}" in caplog.text
    # The token was never seen, but its hash was stored: no word of the log is that token.
    words = re.findall(r"[A-Za-z0-9_-]{20,}", caplog.text)
    assert invitation.token_hash not in {hashlib.sha256(word.encode()).hexdigest() for word in words}


def test_the_payload_is_what_the_serializers_fields_render(invite):
    invite("ada@example.com")
    invitation = Invitation.objects.get()

    by_the_fields = serializers.ModelSerializer.to_representation(InvitationSerializer(invitation), invitation)

    assert invitation_payload(invitation) == by_the_fields
    assert set(invitation_payload(invitation)) == set(InvitationSerializer().fields)


def test_the_list_runs_the_same_statements_however_many_invitations_it_shows(invite, client, project):
    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(invitations_url(project)).status_code == 200
        return [query["sql"] for query in queries]

    invite("ada@example.com")
    one = statements()
    for name in ("grace", "alan", "edsger", "barbara"):
        invite(f"{name}@example.com")
    five = statements()

    # The caller's row (authentication), the project with the caller's role, the page.
    assert len(one) == len(five) == 3, five


# --- At the same moment ----------------------------------------------------------------------------

ATTEMPTS = 10


def _at_once(requests) -> list[int]:
    """Run each request (a function returning a response) in its own thread, all released at once;
    the statuses, sorted."""
    start = threading.Barrier(len(requests))
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(request) -> None:
        try:
            start.wait(timeout=10)
            status = request().status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
def test_a_token_accepted_by_many_at_once_makes_one_member(client_for, user):
    if connection.vendor != "mysql":
        pytest.skip("concurrent transactions need MySQL; this runs in the MySQL + Redis pass")
    project = services.project_create(actor=user, name="Race")
    services.invitation_create(project=project, actor=user, email="ada@example.com", operator=True)  # the email goes
    token = token_sent_to("ada@example.com")
    clients = [client_for(UserFactory()) for _ in range(ATTEMPTS)]

    statuses = _at_once([lambda client=client: client.post(ACCEPT, {"token": token}) for client in clients])

    assert statuses == [200] + [400] * (ATTEMPTS - 1)
    assert Membership.objects.filter(project=project).count() == 2  # the owner and the one who got in
