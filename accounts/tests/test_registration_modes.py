"""Who may register, by TASKFLOW_REGISTRATION: anyone (`open`), invited addresses (`invite`: the
body carries the invitation's token, accepted with the registration) or nobody (`closed`)."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from tasks import services
from tasks.models import Invitation, Membership

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REGISTER = "/api/auth/register/"
STRONG_PASSWORD = "Plum-Orchard-7415"


def registration(username: str = "ada", email: str = "ada@example.com", **extra) -> dict:
    return {"username": username, "email": email, "password": STRONG_PASSWORD, **extra}


@pytest.fixture
def invitation_token(user, project, django_capture_on_commit_callbacks):
    """`invitation_token(email, role="member")`: invite `email` to `project` and return the token
    its email carries."""

    def invite(email: str, role: str = "member") -> str:
        with django_capture_on_commit_callbacks(execute=True):
            services.invitation_create(project=project, actor=user, email=email, role=role, operator=True)
        [message] = [message for message in mail.outbox if message.to == [email]][-1:]
        return re.search(r"^    (\S+)$", message.body, re.MULTILINE).group(1)

    return invite


@pytest.fixture
def invite_only(settings):
    settings.TASKFLOW_REGISTRATION = "invite"


# --- open -----------------------------------------------------------------------------------------


def test_registration_is_open_by_default(api_client):
    response = api_client.post(REGISTER, registration())

    assert response.status_code == 201
    assert User.objects.filter(username="ada").exists()


def test_open_registration_with_an_invitation_accepts_it(api_client, project, invitation_token):
    token = invitation_token("ada@example.com", "viewer")

    response = api_client.post(REGISTER, registration(invitation=token))

    assert response.status_code == 201
    assert Membership.objects.get(project=project, user__username="ada").role == "viewer"


def test_open_registration_with_a_bad_invitation_is_400(api_client):
    response = api_client.post(REGISTER, registration(invitation="no-such-token"))

    assert response.status_code == 400
    assert "invitation" in response.json()
    assert not User.objects.filter(username="ada").exists()


# --- closed ---------------------------------------------------------------------------------------


def test_closed_registration_is_403(api_client, settings):
    settings.TASKFLOW_REGISTRATION = "closed"

    response = api_client.post(REGISTER, registration())

    assert response.status_code == 403
    assert "detail" in response.json()
    assert not User.objects.filter(username="ada").exists()


def test_closed_registration_is_403_with_an_invitation_too(api_client, settings, invitation_token):
    token = invitation_token("ada@example.com")
    settings.TASKFLOW_REGISTRATION = "closed"

    assert api_client.post(REGISTER, registration(invitation=token)).status_code == 403
    assert Invitation.objects.get().accepted_at is None


# --- invite ---------------------------------------------------------------------------------------


def test_invite_only_registration_without_an_invitation_is_400(api_client, invite_only):
    response = api_client.post(REGISTER, registration())

    assert response.status_code == 400
    assert "invitation" in response.json()
    assert not User.objects.filter(username="ada").exists()


def test_invite_only_registration_with_an_invitation_makes_the_user_a_member(
    api_client, invite_only, project, invitation_token
):
    token = invitation_token("ada@example.com", "admin")

    response = api_client.post(REGISTER, registration(invitation=token))

    assert response.status_code == 201
    assert set(response.json()) == {"id", "username", "email"}
    ada = User.objects.get(username="ada")
    assert Membership.objects.get(project=project, user=ada).role == "admin"
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == ada
    event = project.events.order_by("-seq").first()
    assert (event.type, event.actor_id, event.data["user"]) == ("member.added", ada.pk, ada.pk)


def test_the_registered_address_must_be_the_invited_one(api_client, invite_only, invitation_token):
    token = invitation_token("ada@example.com")

    response = api_client.post(REGISTER, registration(email="someone.else@example.com", invitation=token))

    assert response.status_code == 400
    assert "invitation" in response.json()
    assert not User.objects.filter(username="ada").exists()
    assert Invitation.objects.get().accepted_at is None


def test_the_invited_address_is_matched_ignoring_case(api_client, invite_only, project, invitation_token):
    token = invitation_token("Ada@Example.com")

    response = api_client.post(REGISTER, registration(email="ada@example.com", invitation=token))

    assert response.status_code == 201


def test_an_invitation_registers_one_account(api_client, invite_only, invitation_token):
    token = invitation_token("ada@example.com")
    api_client.post(REGISTER, registration(invitation=token))

    again = api_client.post(REGISTER, registration(username="ada2", email="ada@example.com", invitation=token))

    assert again.status_code == 400
    assert not User.objects.filter(username="ada2").exists()


def test_an_expired_invitation_registers_nobody(api_client, invite_only, invitation_token):
    token = invitation_token("ada@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_client.post(REGISTER, registration(invitation=token))

    assert response.status_code == 400
    assert "invitation" in response.json()
    assert not User.objects.filter(username="ada").exists()


def test_a_revoked_invitation_registers_nobody(api_client, invite_only, user, project, invitation_token):
    token = invitation_token("ada@example.com")
    invitation = Invitation.objects.get()
    services.invitation_revoke(project=project, actor=user, invitation=invitation, operator=True)

    response = api_client.post(REGISTER, registration(invitation=token))

    assert response.status_code == 400
    assert not User.objects.filter(username="ada").exists()


def test_other_registration_errors_come_first(api_client, invite_only, invitation_token):
    token = invitation_token("ada@example.com")

    response = api_client.post(REGISTER, registration(invitation=token) | {"password": "short"})

    assert response.status_code == 400
    assert "password" in response.json()
    assert Invitation.objects.get().accepted_at is None


def test_an_unknown_mode_stops_the_server_from_starting():
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TASKFLOW_")}
    environment["TASKFLOW_REGISTRATION"] = "sometimes"

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "TASKFLOW_REGISTRATION must be 'open', 'invite' or 'closed'" in result.stderr
