"""The authentication API as clients see it: register, tokens, logout, profile, password, rate limits."""

import base64
import json
import uuid
from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/auth/register/"
TOKEN_URL = "/api/auth/token/"
REFRESH_URL = "/api/auth/token/refresh/"
VERIFY_URL = "/api/auth/token/verify/"
LOGOUT_URL = "/api/auth/logout/"
ME_URL = "/api/auth/me/"
PASSWORD_URL = "/api/auth/password/"

STRONG_PASSWORD = "Plum-Orchard-7415"
NEW_PASSWORD = "Quiet-Lantern-2093"


def _log_in(client: APIClient, user: User, password: str = PASSWORD) -> dict:
    """Obtain a token pair for `user` and return it: `{"access": ..., "refresh": ...}`."""
    response = client.post(TOKEN_URL, {"username": user.username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def _bearer_client(access: str) -> APIClient:
    """A client that sends `Authorization: Bearer <access>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _fresh_client_address() -> str:
    """An address (IPv6 documentation prefix) no other test or earlier run has used.

    Throttle counts live in the cache, which may be a Redis shared by parallel workers and kept
    between runs: a fixed address could start a test with requests already counted against it.
    """
    suffix = uuid.uuid4().hex
    return "2001:db8:" + ":".join(suffix[i : i + 4] for i in range(0, 24, 4))


def _with_payload(token: str, **claims) -> str:
    """The token with some payload claims changed but the original signature kept (a forgery)."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# --- Register -------------------------------------------------------------------------------------


def test_register_returns_id_username_and_email(api_client):
    response = api_client.post(
        REGISTER_URL, {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 201
    stored = User.objects.get(username="ada")
    assert response.json() == {"id": stored.pk, "username": "ada", "email": "ada@example.com"}


def test_register_stores_user_with_hashed_password(api_client):
    api_client.post(REGISTER_URL, {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD})

    stored = User.objects.get(username="ada")
    assert stored.email == "ada@example.com"
    assert stored.password != STRONG_PASSWORD
    assert stored.check_password(STRONG_PASSWORD)


def test_registered_user_can_log_in(api_client):
    api_client.post(REGISTER_URL, {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD})

    response = api_client.post(TOKEN_URL, {"username": "ada", "password": STRONG_PASSWORD})

    assert response.status_code == 200


def test_register_rejects_taken_username(api_client, user):
    response = api_client.post(
        REGISTER_URL, {"username": user.username, "email": "other@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.filter(email="other@example.com").exists()


def test_register_rejects_username_differing_only_in_case(api_client):
    UserFactory(username="ada")

    response = api_client.post(
        REGISTER_URL, {"username": "ADA", "email": "other@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.filter(email="other@example.com").exists()


def test_register_rejects_taken_email(api_client, user):
    response = api_client.post(REGISTER_URL, {"username": "ada", "email": user.email, "password": STRONG_PASSWORD})

    assert response.status_code == 400
    assert "email" in response.json()
    assert not User.objects.filter(username="ada").exists()


def test_register_rejects_email_differing_only_in_case(api_client):
    UserFactory(email="ada@example.com")

    response = api_client.post(
        REGISTER_URL, {"username": "ada2", "email": "Ada@Example.COM", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 400
    assert "email" in response.json()
    assert not User.objects.filter(username="ada2").exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Xq7#zk", "too short"),
        ("password", "too common"),
        ("48192736", "entirely numeric"),
        ("marguerite1", "too similar to the username"),
    ],
    ids=["too-short", "too-common", "entirely-numeric", "similar-to-username"],
)
def test_register_rejects_weak_password(api_client, password, reason):
    response = api_client.post(
        REGISTER_URL, {"username": "marguerite", "email": "newcomer@example.com", "password": password}
    )

    assert response.status_code == 400
    assert any(reason in message for message in response.json()["password"])
    assert not User.objects.filter(username="marguerite").exists()


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_requires_every_field(api_client, missing):
    body = {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD}
    del body[missing]

    response = api_client.post(REGISTER_URL, body)

    assert response.status_code == 400
    assert missing in response.json()
    assert not User.objects.exists()


def test_register_rejects_invalid_email(api_client):
    response = api_client.post(REGISTER_URL, {"username": "ada", "email": "not-an-email", "password": STRONG_PASSWORD})

    assert response.status_code == 400
    assert "email" in response.json()
    assert not User.objects.filter(username="ada").exists()


def test_register_rejects_username_with_invalid_characters(api_client):
    response = api_client.post(
        REGISTER_URL, {"username": "ada lovelace!", "email": "ada@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.exists()


# Letters of other scripts are refused: the schema documents usernames as ASCII, and NFKC (applied
# on save) turned some of them into characters the username rule refuses (a halfwidth sound mark,
# U+FF9E, into a combining one).
@pytest.mark.parametrize("username", ["\u00f8", "Jos\u00e9", "a\uff9e", "\uff46\uff55\uff4c\uff4c"])
def test_register_rejects_username_with_letters_outside_ascii(api_client, username):
    response = api_client.post(
        REGISTER_URL, {"username": username, "email": "ada@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["username", "password"])
def test_register_rejects_a_number_where_text_is_expected(api_client, field):
    body = {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD, field: 1.2345678901e20}

    response = api_client.post(REGISTER_URL, body)

    assert response.status_code == 400
    assert response.json() == {field: ["Not a valid string."]}
    assert not User.objects.exists()


def test_register_rejects_malformed_json(api_client):
    response = api_client.post(REGISTER_URL, '{"username": "ada",', content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


# --- Token obtain ---------------------------------------------------------------------------------


def test_token_obtain_returns_access_and_refresh(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_obtained_access_token_authenticates_the_user(api_client, user):
    tokens = _log_in(api_client, user)

    response = _bearer_client(tokens["access"]).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["username"] == user.username


def test_token_obtain_rejects_wrong_password(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": user.username, "password": "not-the-password"})

    assert response.status_code == 401
    assert "detail" in response.json()
    assert "access" not in response.json()


def test_token_obtain_rejects_unknown_user(api_client):
    response = api_client.post(TOKEN_URL, {"username": "nobody", "password": PASSWORD})

    assert response.status_code == 401
    assert "access" not in response.json()


def test_token_obtain_rejects_inactive_user(api_client):
    inactive = UserFactory(is_active=False)

    response = api_client.post(TOKEN_URL, {"username": inactive.username, "password": PASSWORD})

    assert response.status_code == 401
    assert "access" not in response.json()


def test_token_obtain_requires_password(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": user.username})

    assert response.status_code == 400
    assert "password" in response.json()


# --- Token refresh --------------------------------------------------------------------------------


def test_refresh_returns_new_access_and_rotated_refresh(api_client, user):
    tokens = _log_in(api_client, user)

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert response.json()["refresh"] != tokens["refresh"]


def test_refreshed_access_token_authenticates_the_user(api_client, user):
    tokens = _log_in(api_client, user)
    refreshed = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}).json()

    response = _bearer_client(refreshed["access"]).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["username"] == user.username


def test_rotated_refresh_token_can_be_used_again(api_client, user):
    tokens = _log_in(api_client, user)
    rotated = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}).json()["refresh"]

    response = api_client.post(REFRESH_URL, {"refresh": rotated})

    assert response.status_code == 200


def test_refresh_rejects_reuse_of_rotated_out_token(api_client, user):
    tokens = _log_in(api_client, user)
    api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401
    assert "access" not in response.json()


def test_refresh_rejects_garbage_token(api_client):
    response = api_client.post(REFRESH_URL, {"refresh": "not-a-token"})

    assert response.status_code == 401


def test_refresh_rejects_access_token(api_client, user):
    tokens = _log_in(api_client, user)

    response = api_client.post(REFRESH_URL, {"refresh": tokens["access"]})

    assert response.status_code == 401


def test_refresh_rejects_token_of_deactivated_user(api_client, user):
    tokens = _log_in(api_client, user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401


def test_refresh_rejects_token_of_deleted_user(api_client, user):
    tokens = _log_in(api_client, user)
    user.delete()

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401


# --- Token verify ---------------------------------------------------------------------------------


def test_verify_accepts_valid_access_token(api_client, user):
    tokens = _log_in(api_client, user)

    response = api_client.post(VERIFY_URL, {"token": tokens["access"]})

    assert response.status_code == 200
    assert response.json() == {}


def test_verify_rejects_garbage_token(api_client):
    response = api_client.post(VERIFY_URL, {"token": "not-a-token"})

    assert response.status_code == 401


def test_verify_rejects_tampered_token(api_client, user):
    other = UserFactory()
    tokens = _log_in(api_client, user)

    response = api_client.post(VERIFY_URL, {"token": _with_payload(tokens["access"], user_id=str(other.pk))})

    assert response.status_code == 401


def test_verify_rejects_expired_access_token(api_client, user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))

    response = api_client.post(VERIFY_URL, {"token": str(token)})

    assert response.status_code == 401


def test_verify_rejects_logged_out_refresh_token(api_client, user):
    tokens = _log_in(api_client, user)
    api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]})

    response = api_client.post(VERIFY_URL, {"token": tokens["refresh"]})

    assert response.status_code == 401


# --- Logout ---------------------------------------------------------------------------------------


def test_logout_answers_205_without_access_token(api_client, user):
    tokens = _log_in(api_client, user)

    response = api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 205
    assert response.content == b""


def test_logged_out_refresh_token_is_rejected_by_refresh(api_client, user):
    tokens = _log_in(api_client, user)
    api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]})

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401


def test_logout_leaves_other_sessions_signed_in(api_client, user):
    laptop = _log_in(api_client, user)
    phone = _log_in(api_client, user)
    api_client.post(LOGOUT_URL, {"refresh": laptop["refresh"]})

    response = api_client.post(REFRESH_URL, {"refresh": phone["refresh"]})

    assert response.status_code == 200


def test_logout_rejects_garbage_token(api_client):
    response = api_client.post(LOGOUT_URL, {"refresh": "not-a-token"})

    assert response.status_code == 401


def test_logout_twice_with_same_token_is_rejected(api_client, user):
    tokens = _log_in(api_client, user)
    api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]})

    response = api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]})

    assert response.status_code == 401


# --- Me -------------------------------------------------------------------------------------------


def test_me_returns_profile_of_caller(client, user):
    response = client.get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_notifications": True,
        "date_joined": body["date_joined"],
    }
    assert body["date_joined"].endswith("Z")
    assert datetime.fromisoformat(body["date_joined"]) == user.date_joined


def test_me_patch_updates_email_and_names(client, user):
    response = client.patch(ME_URL, {"email": "new@example.com", "first_name": "Ada", "last_name": "Lovelace"})

    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"
    assert response.json()["first_name"] == "Ada"
    assert response.json()["last_name"] == "Lovelace"
    user.refresh_from_db()
    assert (user.email, user.first_name, user.last_name) == ("new@example.com", "Ada", "Lovelace")


def test_me_patch_of_one_field_keeps_the_others(client, user):
    User.objects.filter(pk=user.pk).update(first_name="Ada", last_name="Lovelace")
    original_email = user.email

    response = client.patch(ME_URL, {"last_name": "King"})

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.email, user.first_name, user.last_name) == (original_email, "Ada", "King")


def test_me_patch_ignores_username(client, user):
    original = user.username

    response = client.patch(ME_URL, {"username": "mallory"})

    assert response.status_code == 200
    assert response.json()["username"] == original
    user.refresh_from_db()
    assert user.username == original


def test_me_patch_rejects_email_of_another_user(client, user):
    other = UserFactory()
    original = user.email

    response = client.patch(ME_URL, {"email": other.email})

    assert response.status_code == 400
    assert "email" in response.json()
    user.refresh_from_db()
    assert user.email == original


def test_me_patch_rejects_email_of_another_user_differing_only_in_case(client, user):
    other = UserFactory(email="taken@example.com")

    response = client.patch(ME_URL, {"email": "Taken@Example.com"})

    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.filter(email__iexact="taken@example.com").get() == other


def test_me_patch_allows_changing_case_of_own_email(client, user):
    response = client.patch(ME_URL, {"email": user.email.upper()})

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == response.json()["email"]


def test_me_patch_rejects_invalid_email(client, user):
    original = user.email

    response = client.patch(ME_URL, {"email": "not-an-email"})

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.email == original


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_me_patch_rejects_a_number_as_a_name(client, user, field):
    response = client.patch(ME_URL, {field: 0})

    assert response.status_code == 400
    assert response.json() == {field: ["Not a valid string."]}
    user.refresh_from_db()
    assert getattr(user, field) == ""


def test_me_get_requires_authentication(api_client):
    response = api_client.get(ME_URL)

    assert response.status_code == 401


def test_me_patch_requires_authentication(api_client, user):
    response = api_client.patch(ME_URL, {"first_name": "Eve"})

    assert response.status_code == 401
    user.refresh_from_db()
    assert user.first_name != "Eve"


# --- Password change ------------------------------------------------------------------------------


def test_password_change_answers_204(client):
    response = client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert response.content == b""


def test_password_change_lets_user_log_in_with_new_password(client, api_client, user):
    client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    response = api_client.post(TOKEN_URL, {"username": user.username, "password": NEW_PASSWORD})

    assert response.status_code == 200


def test_password_change_stops_old_password_from_logging_in(client, api_client, user):
    client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    response = api_client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 401


def test_password_change_rejects_wrong_old_password(client, user):
    response = client.post(PASSWORD_URL, {"old_password": "not-the-password", "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert "old_password" in response.json()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "new_password",
    ["Xq7#zk", "password", "48192736", "user-password"],
    ids=["too-short", "too-common", "entirely-numeric", "similar-to-username"],
)
def test_password_change_rejects_weak_new_password(client_for, new_password):
    account = UserFactory(username="user-password")

    response = client_for(account).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": new_password})

    assert response.status_code == 400
    assert "new_password" in response.json()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_password_change_requires_authentication(api_client):
    response = api_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 401


def test_password_change_ends_every_refresh_token(api_client, user):
    laptop = _log_in(api_client, user)
    laptop_rotated = api_client.post(REFRESH_URL, {"refresh": laptop["refresh"]}).json()
    phone = _log_in(api_client, user)
    _bearer_client(phone["access"]).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    statuses = [
        api_client.post(REFRESH_URL, {"refresh": refresh}).status_code
        for refresh in (laptop_rotated["refresh"], phone["refresh"])
    ]

    assert statuses == [401, 401]


def test_password_change_rejects_old_access_token(api_client, user):
    tokens = _log_in(api_client, user)
    session = _bearer_client(tokens["access"])
    session.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    response = session.get(ME_URL)

    assert response.status_code == 401


def test_verify_rejects_access_token_issued_before_password_change(api_client, user):
    tokens = _log_in(api_client, user)
    _bearer_client(tokens["access"]).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    response = api_client.post(VERIFY_URL, {"token": tokens["access"]})

    assert response.status_code == 401


def test_password_change_leaves_other_users_signed_in(client, api_client):
    other = UserFactory()
    others_tokens = _log_in(api_client, other)
    client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    response = api_client.post(REFRESH_URL, {"refresh": others_tokens["refresh"]})

    assert response.status_code == 200


# --- Rate limits ----------------------------------------------------------------------------------


def test_token_endpoint_throttles_fourth_request_from_same_address(settings, user):
    settings.TASKFLOW_AUTH_RATE = "3/min"
    client = APIClient(REMOTE_ADDR=_fresh_client_address())
    credentials = {"username": user.username, "password": PASSWORD}
    allowed = [client.post(TOKEN_URL, credentials).status_code for _ in range(3)]

    response = client.post(TOKEN_URL, credentials)

    assert allowed == [200, 200, 200]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_token_endpoint_throttle_leaves_other_addresses_alone(settings, user):
    settings.TASKFLOW_AUTH_RATE = "3/min"
    credentials = {"username": user.username, "password": PASSWORD}
    busy = APIClient(REMOTE_ADDR=_fresh_client_address())
    for _ in range(4):
        busy.post(TOKEN_URL, credentials)

    response = APIClient(REMOTE_ADDR=_fresh_client_address()).post(TOKEN_URL, credentials)

    assert response.status_code == 200


def test_register_endpoint_throttles_fourth_request_from_same_address(settings):
    settings.TASKFLOW_AUTH_RATE = "3/min"
    client = APIClient(REMOTE_ADDR=_fresh_client_address())
    allowed = [
        client.post(
            REGISTER_URL, {"username": f"ada{n}", "email": f"ada{n}@example.com", "password": STRONG_PASSWORD}
        ).status_code
        for n in range(3)
    ]

    response = client.post(REGISTER_URL, {"username": "ada3", "email": "ada3@example.com", "password": STRONG_PASSWORD})

    assert allowed == [201, 201, 201]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="ada3").exists()


def test_register_endpoint_throttle_leaves_other_addresses_alone(settings):
    settings.TASKFLOW_AUTH_RATE = "3/min"
    busy = APIClient(REMOTE_ADDR=_fresh_client_address())
    for n in range(4):
        busy.post(REGISTER_URL, {"username": f"ada{n}", "email": f"ada{n}@example.com", "password": STRONG_PASSWORD})

    response = APIClient(REMOTE_ADDR=_fresh_client_address()).post(
        REGISTER_URL, {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 201


# --- Where tokens are accepted --------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["token", "access_token", "jwt"])
def test_access_token_in_query_string_does_not_authenticate(api_client, user, parameter):
    tokens = _log_in(api_client, user)

    response = api_client.get(ME_URL, {parameter: tokens["access"]})

    assert response.status_code == 401
