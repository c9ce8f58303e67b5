"""Request authentication as an API client notices it, with tokens verified once per process."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db


def client_with(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_accepted_before_is_refused_once_it_expires(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=1))
    client = client_with(token)
    assert client.get("/api/auth/me/").status_code == 200
    time.sleep(max(0.0, token["exp"] - time.time()) + 0.1)
    assert client.get("/api/auth/me/").status_code == 401


def test_a_token_accepted_before_is_refused_after_a_password_change(user):
    client = client_with(AccessToken.for_user(user))
    assert client.get("/api/auth/me/").status_code == 200
    user.set_password("a-new-long-passphrase-2")
    user.save()
    assert client.get("/api/auth/me/").status_code == 401


def test_a_token_accepted_before_is_refused_once_its_user_is_deactivated(user):
    client = client_with(AccessToken.for_user(user))
    assert client.get("/api/auth/me/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/auth/me/").status_code == 401


def test_a_tampered_copy_of_an_accepted_token_is_refused(user):
    token = str(AccessToken.for_user(user))
    assert client_with(token).get("/api/auth/me/").status_code == 200
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert client_with(tampered).get("/api/auth/me/").status_code == 401
