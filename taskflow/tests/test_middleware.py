"""Browser middleware stands aside for API requests with a bearer token, and only for those."""

import pytest
from django.http import HttpResponse
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from taskflow.http.middleware import AuthenticationMiddleware, MessageMiddleware, SessionMiddleware


def _what_the_view_sees(rf, path: str, **headers) -> dict:
    seen = {}

    def view(request):
        seen.update(
            session=hasattr(request, "session"), user=hasattr(request, "user"), messages=hasattr(request, "_messages")
        )
        return HttpResponse()

    chain = SessionMiddleware(AuthenticationMiddleware(MessageMiddleware(view)))
    chain(rf.get(path, **headers))
    return seen


def test_an_api_request_with_a_bearer_token_reaches_the_view_without_session_user_or_messages(rf):
    seen = _what_the_view_sees(rf, "/api/tasks/1/", HTTP_AUTHORIZATION="Bearer abc.def.ghi")
    assert seen == {"session": False, "user": False, "messages": False}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/tasks/1/", {}),  # the browsable API, with a session
        ("/api/tasks/1/", {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}),
        ("/admin/", {"HTTP_AUTHORIZATION": "Bearer abc.def.ghi"}),
        ("/api-auth/login/", {}),
    ],
)
def test_every_other_request_gets_the_whole_chain(rf, path, headers):
    assert _what_the_view_sees(rf, path, **headers) == {"session": True, "user": True, "messages": True}


@pytest.mark.django_db
def test_the_token_decides_who_calls_even_beside_a_session_of_someone_else():
    browser_user, token_user = UserFactory(), UserFactory()
    client = Client()
    client.force_login(browser_user)

    by_session = client.get("/api/auth/me/", HTTP_ACCEPT="application/json")
    access = RefreshToken.for_user(token_user).access_token
    by_token = client.get("/api/auth/me/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION=f"Bearer {access}")

    assert (by_session.status_code, by_session.json()["username"]) == (200, browser_user.username)
    assert (by_token.status_code, by_token.json()["username"]) == (200, token_user.username)
    assert "sessionid" not in by_token.cookies


@pytest.mark.django_db
def test_a_session_write_without_a_token_still_needs_its_csrf_token():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    refused = client.patch("/api/auth/me/", {"first_name": "Ada"}, content_type="application/json")

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
