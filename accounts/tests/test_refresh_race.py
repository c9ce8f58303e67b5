"""A refresh token is spent exactly once, however many refreshes of it run at the same moment."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

REFRESH_URL = "/api/auth/token/refresh/"
ATTEMPTS = 20


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("concurrent transactions need MySQL; this runs in the MySQL + Redis pass")


def test_twenty_simultaneous_refreshes_of_one_token_let_exactly_one_through(on_mysql, user):
    refresh = APIClient().post("/api/auth/token/", {"username": user.username, "password": PASSWORD}).json()["refresh"]
    start = threading.Barrier(ATTEMPTS)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            client = APIClient(REMOTE_ADDR="10.9.9.9")
            start.wait(timeout=10)
            response = client.post(REFRESH_URL, {"refresh": refresh}, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [401] * (ATTEMPTS - 1)
    # The one new refresh token is the only one issued, and it works.
    [issued] = [body["refresh"] for status, body in answers if status == 200]
    assert OutstandingToken.objects.filter(user=user).count() == 2  # the spent one and its successor
    assert APIClient().post(REFRESH_URL, {"refresh": issued}, format="json").status_code == 200
