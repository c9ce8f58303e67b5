"""The MySQL backend's health checks: a busy connection is trusted, a quiet one is pinged.

Django's test client leaves connections alone between requests, so the request boundaries a
server goes through (`close_old_connections` when a request starts and ends) are called here.
"""

import pytest
from django.db import close_old_connections, connection, connections

from taskflow.db.mysql import base as backend

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("the MySQL backend is tested in the MySQL + Redis pass (set DATABASE_URL)")


@pytest.fixture
def pings(monkeypatch) -> list[int]:
    """The pings the connection sends from now on."""
    sent = []
    original = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: sent.append(1) or original())
    return sent


def request_statement() -> int:
    """One request's worth of work, between the boundaries a server goes through."""
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (value,) = cursor.fetchone()
    close_old_connections()
    return value


def test_a_connection_that_just_answered_is_not_pinged_at_the_next_request(on_mysql, pings):
    request_statement()
    pings.clear()
    assert request_statement() == 1
    assert pings == []


def test_a_quiet_connection_is_pinged_first(on_mysql, pings, monkeypatch):
    request_statement()
    pings.clear()
    monkeypatch.setattr(backend, "HEALTHY_SECONDS", 0.0)
    assert request_statement() == 1
    assert pings == [1]


def test_a_quiet_connection_the_server_dropped_is_replaced_before_the_request_uses_it(on_mysql, monkeypatch):
    request_statement()
    old_id = connection.connection.thread_id()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("KILL CONNECTION %s", [old_id])  # a restart, a timeout
    finally:
        other.close()
    monkeypatch.setattr(backend, "HEALTHY_SECONDS", 0.0)
    assert request_statement() == 1
    assert connection.connection.thread_id() != old_id
