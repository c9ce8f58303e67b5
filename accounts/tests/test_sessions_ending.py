"""What a password change and a password reset end: the password's sessions everywhere, on REST
and on open WebSockets; and, for a reset only, every personal access token of the account."""

import re

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import PersonalAccessToken
from accounts.password_reset import password_reset_token, password_reset_uid
from accounts.services import personal_token_create, user_change_password, user_password_reset
from accounts.tests.factories import PASSWORD, UserFactory
from operations.tests.jobs import jobs_run
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE, access_token, auth_ok

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Quiet-Lantern-2093"
CLOSED = {"type": "websocket.close", "code": 4401}


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", email="ada@example.com")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def reset_by_email(user) -> None:
    """Ask for a reset of the user's address, and set NEW_PASSWORD with the emailed uid and token."""
    assert APIClient().post("/api/auth/password/reset/", {"email": user.email}).status_code == 202
    jobs_run()
    body = mail.outbox[-1].body
    values = {name: re.search(rf"^    {name}: (\S+)$", body, re.MULTILINE).group(1) for name in ("uid", "token")}
    response = APIClient().post("/api/auth/password/reset/confirm/", {**values, "new_password": NEW_PASSWORD})
    assert response.status_code == 204, response.content


def test_a_reset_revokes_every_personal_access_token_of_the_account(ada):
    tokens = [personal_token_create(user=ada, name=f"bot {n}", scope="write")[1] for n in range(3)]
    assert all(bearer(token).get("/api/projects/").status_code == 200 for token in tokens)

    reset_by_email(ada)

    assert [bearer(token).get("/api/projects/").status_code for token in tokens] == [401, 401, 401]
    assert not PersonalAccessToken.objects.filter(user=ada).exists()


def test_a_reset_leaves_other_accounts_tokens_alone(ada):
    other = UserFactory()
    _, token = personal_token_create(user=other, name="their bot", scope="read")

    reset_by_email(ada)

    assert bearer(token).get("/api/projects/").status_code == 200


def test_a_password_change_keeps_the_personal_access_tokens(ada):
    _, token = personal_token_create(user=ada, name="bot", scope="write")
    client = bearer(access_token(ada))

    response = client.post("/api/auth/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert bearer(token).get("/api/projects/").status_code == 200


# --- Open WebSockets -------------------------------------------------------------------------------


async def signed_in_with(sockets, user, token: str):
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": token})
    assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)
    return ws


@pytest.mark.django_db(transaction=True)
async def test_a_password_change_closes_the_sockets_signed_in_with_a_jwt_but_not_with_a_token(sockets, ada):
    _, token = await sync_to_async(personal_token_create)(user=ada, name="bot", scope="read")
    with_jwt = await signed_in_with(sockets, ada, access_token(ada))
    with_token = await signed_in_with(sockets, ada, token)
    bystander = await sync_to_async(UserFactory)()
    theirs = await signed_in_with(sockets, bystander, access_token(bystander))

    await sync_to_async(user_change_password)(user=ada, new_password=NEW_PASSWORD)

    assert await with_jwt.receive_output(FRAME_TIMEOUT) == CLOSED
    assert await with_token.receive_nothing(SILENCE)
    assert await theirs.receive_nothing(0.01)


@pytest.mark.django_db(transaction=True)
async def test_a_reset_closes_every_socket_of_the_account(sockets, ada):
    _, token = await sync_to_async(personal_token_create)(user=ada, name="bot", scope="read")
    with_jwt = await signed_in_with(sockets, ada, access_token(ada))
    with_token = await signed_in_with(sockets, ada, token)
    uid, reset_token = password_reset_uid(ada), await sync_to_async(password_reset_token)(ada)

    await sync_to_async(user_password_reset)(uid=uid, token=reset_token, new_password=NEW_PASSWORD)

    assert await with_jwt.receive_output(FRAME_TIMEOUT) == CLOSED
    assert await with_token.receive_output(FRAME_TIMEOUT) == CLOSED


@pytest.mark.django_db(transaction=True)
async def test_a_jwt_from_before_the_change_cannot_sign_a_socket_in_again(sockets, ada):
    old = access_token(ada)
    await sync_to_async(user_change_password)(user=ada, new_password=NEW_PASSWORD)

    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": old})

    assert await ws.receive_output(FRAME_TIMEOUT) == CLOSED
