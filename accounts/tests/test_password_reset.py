"""Password reset as clients see it: ask by email (202 whatever the address), then choose a new
password with the email's `uid` and `token`, which work once and end every session.

The email is sent by a background job (`jobs_run` runs it as the worker would), so the request does
the same work whether an account has the address or not.
"""

import logging
import re
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
NEW_PASSWORD = "Quiet-Lantern-2093"
ATTEMPTS = 10


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", email="ada@example.com")


def reset_values(address: str) -> dict:
    """The `uid` and `token` of the last reset email to `address`."""
    [message] = [message for message in mail.outbox if message.to == [address]][-1:]
    return {
        "uid": re.search(r"^    uid: (\S+)$", message.body, re.MULTILINE).group(1),
        "token": re.search(r"^    token: (\S+)$", message.body, re.MULTILINE).group(1),
    }


def requested(api_client, run_jobs, address: str) -> dict:
    """Ask for a reset of `address`, send its email, and return the email's `uid` and `token`."""
    assert api_client.post(RESET, {"email": address}).status_code == 202
    run_jobs()
    return reset_values(address)


def log_in(api_client, user, password: str):
    return api_client.post(TOKEN, {"username": user.username, "password": password})


# --- Asking for a reset ----------------------------------------------------------------------------


def test_asking_for_a_reset_is_202(api_client, ada):
    response = api_client.post(RESET, {"email": "ada@example.com"})

    assert response.status_code == 202
    assert "detail" in response.json()


def test_known_and_unknown_addresses_get_the_same_answer(api_client, ada):
    known = api_client.post(RESET, {"email": "ada@example.com"})
    unknown = api_client.post(RESET, {"email": "nobody@example.com"})

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known["Content-Type"] == unknown["Content-Type"]


def test_known_and_unknown_addresses_do_the_same_work_in_the_request(api_client, ada):
    api_client.post(RESET, {"email": "ada@example.com"})
    api_client.post(RESET, {"email": "nobody@example.com"})

    # One job each, whether an account has the address or not; no email yet.
    assert DBTaskResult.objects.filter(task_path="accounts.jobs.password_reset_send").count() == 2
    assert mail.outbox == []


def test_the_account_with_the_address_gets_an_email_with_uid_and_token(api_client, run_jobs, ada):
    api_client.post(RESET, {"email": "ada@example.com"})

    run_jobs()

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    values = reset_values("ada@example.com")
    assert values["uid"] == urlsafe_base64_encode(force_bytes(ada.pk))
    assert len(values["token"]) > 20
    assert CONFIRM in message.body


def test_an_unknown_address_gets_no_email(api_client, run_jobs, ada):
    api_client.post(RESET, {"email": "nobody@example.com"})

    run_jobs()

    assert mail.outbox == []


def test_the_address_is_matched_ignoring_case(api_client, run_jobs, ada):
    api_client.post(RESET, {"email": "ADA@Example.COM"})

    run_jobs()

    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_an_inactive_account_gets_no_email(api_client, run_jobs, ada):
    ada.is_active = False
    ada.save(update_fields=["is_active"])
    api_client.post(RESET, {"email": "ada@example.com"})

    run_jobs()

    assert mail.outbox == []


@pytest.mark.parametrize("body", [{}, {"email": "not-an-address"}, {"email": ""}])
def test_a_missing_or_malformed_address_is_400(api_client, body):
    response = api_client.post(RESET, body)

    assert response.status_code == 400
    assert "email" in response.json()


def test_the_token_is_stored_nowhere(api_client, run_jobs, ada):
    values = requested(api_client, run_jobs, "ada@example.com")

    assert values["token"] not in str(list(DBTaskResult.objects.values("args_kwargs", "return_value")))


# --- Choosing the new password ---------------------------------------------------------------------


def test_the_emailed_uid_and_token_set_a_new_password(api_client, run_jobs, ada):
    values = requested(api_client, run_jobs, "ada@example.com")

    response = api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert response.content == b""
    assert log_in(api_client, ada, NEW_PASSWORD).status_code == 200
    assert log_in(api_client, ada, PASSWORD).status_code == 401


def test_a_reset_ends_every_session(api_client, run_jobs, ada):
    tokens = log_in(api_client, ada, PASSWORD).json()
    values = requested(api_client, run_jobs, "ada@example.com")

    api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD})

    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    signed_in = APIClient()
    signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert signed_in.get("/api/auth/me/").status_code == 401


def test_the_token_works_once(api_client, run_jobs, ada):
    values = requested(api_client, run_jobs, "ada@example.com")
    api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD})

    again = api_client.post(CONFIRM, {**values, "new_password": "Another-Fine-Word-8812"})

    assert again.status_code == 400
    assert "token" in again.json()
    assert log_in(api_client, ada, NEW_PASSWORD).status_code == 200


def test_a_token_stops_working_once_the_password_changed_otherwise(client_for, api_client, run_jobs, ada):
    values = requested(api_client, run_jobs, "ada@example.com")
    client_for(ada).post("/api/auth/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert api_client.post(CONFIRM, {**values, "new_password": "Another-Fine-Word-8812"}).status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"token": "abc-123"},
        {"uid": "not-base64!"},
        {"uid": urlsafe_base64_encode(b"999999")},
        {"uid": urlsafe_base64_encode(b"-1")},
        {"uid": urlsafe_base64_encode(b"99999999999999999999999")},
        {"uid": urlsafe_base64_encode(b"\xff\xfe")},
    ],
    ids=["bad-token", "bad-uid", "unknown-user", "negative-id", "huge-id", "not-text"],
)
def test_a_bad_uid_or_token_is_400_and_changes_nothing(api_client, run_jobs, ada, change):
    values = requested(api_client, run_jobs, "ada@example.com")

    response = api_client.post(CONFIRM, {**values, **change, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert "token" in response.json()
    assert log_in(api_client, ada, PASSWORD).status_code == 200


def test_another_users_uid_with_this_token_is_400(api_client, run_jobs, ada):
    other = UserFactory()
    values = requested(api_client, run_jobs, "ada@example.com")

    response = api_client.post(
        CONFIRM, {**values, "uid": urlsafe_base64_encode(force_bytes(other.pk)), "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert log_in(api_client, other, PASSWORD).status_code == 200


@pytest.mark.parametrize("weak", ["short", "12345678901", "password123", "ada@example.com"])
def test_a_weak_password_is_400_and_the_token_still_works(api_client, run_jobs, ada, weak):
    values = requested(api_client, run_jobs, "ada@example.com")

    response = api_client.post(CONFIRM, {**values, "new_password": weak})

    assert response.status_code == 400
    assert "new_password" in response.json()
    assert log_in(api_client, ada, PASSWORD).status_code == 200
    assert api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD}).status_code == 204


@pytest.mark.parametrize("missing", ["uid", "token", "new_password"])
def test_a_missing_field_is_400(api_client, run_jobs, ada, missing):
    values = {**requested(api_client, run_jobs, "ada@example.com"), "new_password": NEW_PASSWORD}
    del values[missing]

    response = api_client.post(CONFIRM, values)

    assert response.status_code == 400
    assert missing in response.json()


# --- Rate limits and secrets -----------------------------------------------------------------------


def test_asking_is_throttled_like_the_token_endpoint(api_client, settings, ada):
    settings.TASKFLOW_AUTH_RATE = "2/min"
    statuses = [api_client.post(RESET, {"email": address}).status_code for address in ["ada@example.com"] * 2]

    over = api_client.post(RESET, {"email": "nobody@example.com"})

    assert statuses == [202, 202]
    assert over.status_code == 429
    assert int(over["Retry-After"]) > 0


def test_confirming_is_throttled_too(api_client, settings):
    settings.TASKFLOW_AUTH_RATE = "1/min"
    first = api_client.post(CONFIRM, {"uid": "MQ", "token": "abc", "new_password": NEW_PASSWORD})

    over = api_client.post(CONFIRM, {"uid": "MQ", "token": "abc", "new_password": NEW_PASSWORD})

    assert first.status_code == 400
    assert over.status_code == 429
    assert int(over["Retry-After"]) > 0


def test_no_log_record_holds_the_token(api_client, run_jobs, ada, caplog):
    caplog.set_level(logging.DEBUG)
    values = requested(api_client, run_jobs, "ada@example.com")
    api_client.post(CONFIRM, {**values, "new_password": "short"})  # a 400
    api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD})
    api_client.post(CONFIRM, {**values, "new_password": NEW_PASSWORD})  # a 400: used

    assert caplog.records
    token = values["token"]
    assert not [record for record in caplog.records if token in record.getMessage() or token in str(record.args)]


@pytest.mark.django_db(transaction=True)
def test_a_token_used_by_many_at_once_sets_one_password(run_jobs, ada):
    if connection.vendor != "mysql":
        pytest.skip("concurrent transactions need MySQL; this runs in the MySQL + Redis pass")
    values = requested(APIClient(REMOTE_ADDR="10.8.8.1"), run_jobs, "ada@example.com")
    passwords = [f"Quiet-Lantern-{2000 + index}" for index in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def attempt(password: str) -> None:
        try:
            start.wait(timeout=10)
            response = APIClient(REMOTE_ADDR="10.8.8.2").post(CONFIRM, {**values, "new_password": password})
            with lock:
                answers.append((response.status_code, password))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(password,)) for password in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(status for status, _ in answers) == [204] + [400] * (ATTEMPTS - 1)
    [chosen] = [password for status, password in answers if status == 204]
    ada.refresh_from_db()
    assert ada.check_password(chosen)
