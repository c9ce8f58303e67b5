"""`POST /api/auth/session/token/`: the board's page trades its Django session for a short-lived
access token. Only a session signs it in (never a bearer token), the CSRF token is required, and
the token works on the API like any other; what it answers is never kept for an Idempotency-Key."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import IdempotentRequest
from accounts.services import user_change_password
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/auth/session/token/"


@pytest.fixture
def browser(user) -> Client:
    """A browser signed in with the board's sign-in form, CSRF checks on as in a real browser."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")  # the page sets the CSRF cookie, which the form must send back
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(client)}
    )
    assert response.status_code == 302
    return client


def csrf_token(client: Client) -> str:
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def ask(client, **headers):
    """The page's request: a POST with no body (so no content type), as `fetch()` sends it."""
    return client.post(URL, content_type="application/json", **headers)


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_signed_in_session_with_its_csrf_token_gets_an_access_token(browser, user):
    response = ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser))
    assert response.status_code == 200
    assert set(response.json()) == {"access", "expires_at"}
    me = bearer(response.json()["access"]).get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["username"] == user.username


def test_the_token_expires_as_an_access_token_does(browser):
    before = timezone.now()
    expires_at = parse_datetime(ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser)).json()["expires_at"])
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert before + lifetime - timedelta(seconds=1) <= expires_at <= timezone.now() + lifetime


def test_without_the_csrf_token_is_403(browser):
    response = ask(browser)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_with_a_wrong_csrf_token_is_403(browser):
    assert ask(browser, HTTP_X_CSRFTOKEN="x" * 32).status_code == 403


def test_without_a_session_is_403(api_client):
    assert ask(api_client).status_code == 403


def test_a_bearer_token_cannot_be_traded_for_a_token(client):
    response = ask(client)
    assert response.status_code == 403
    assert "access" not in response.json()


def test_a_session_with_a_bearer_token_is_not_a_session_here(browser):
    # With a bearer token, API requests never read the session (taskflow.http.middleware).
    other = AccessToken.for_user(UserFactory())
    response = ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser), HTTP_AUTHORIZATION=f"Bearer {other}")
    assert response.status_code == 403


def test_a_password_change_ends_the_session_and_its_tokens(browser, user):
    token = ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser)).json()["access"]
    user_change_password(user=user, new_password="Quiet-Lantern-2093")
    assert ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser)).status_code == 403
    assert bearer(token).get("/api/auth/me/").status_code == 401


def test_a_deactivated_user_gets_no_token(browser, user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert ask(browser, HTTP_X_CSRFTOKEN=csrf_token(browser)).status_code == 403


def test_an_idempotency_key_keeps_nothing_and_each_request_gets_a_token_of_its_own(browser):
    headers = {"HTTP_X_CSRFTOKEN": csrf_token(browser), "HTTP_IDEMPOTENCY_KEY": "same-key"}
    first, second = ask(browser, **headers), ask(browser, **headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["access"] != second.json()["access"]
    assert not second.has_header("Idempotency-Replayed")
    assert not IdempotentRequest.objects.exists()


def test_only_post_is_offered(browser):
    assert browser.get(URL).status_code == 405
