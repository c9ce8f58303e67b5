"""The MySQL backend: transactions without autocommit switches; health checks that trust a busy connection.

Django's test client leaves connections alone between requests, so the request boundaries a
server goes through (`close_old_connections` when a request starts and ends) are called here.
"""

from datetime import datetime

import MySQLdb
import pytest
from django.db import close_old_connections, connection, connections, transaction

from taskflow.db.mysql import base as backend
from tasks.models import Project

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


def session_counters() -> dict[str, int]:
    """How many BEGIN, COMMIT, ROLLBACK and SET statements this session has sent so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_begin', 'Com_commit', 'Com_rollback', 'Com_set_option')"
        )
        return {name.lower(): int(value) for name, value in cursor.fetchall()}


def test_a_transaction_is_begin_then_commit_with_no_autocommit_switches(on_mysql, project):
    before = session_counters()
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(description="in a transaction")
    after = session_counters()
    sent = {name: after[name] - before[name] for name in after}
    assert sent == {"com_begin": 1, "com_commit": 1, "com_rollback": 0, "com_set_option": 0}
    assert Project.objects.get(pk=project.pk).description == "in a transaction"


def test_a_transaction_that_fails_leaves_nothing_and_the_session_autocommitting(on_mysql, project):
    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(description="rolled back")
        with transaction.atomic():  # a savepoint inside
            Project.objects.filter(pk=project.pk).update(name="also rolled back")
        raise RuntimeError
    project.refresh_from_db()
    assert (project.name, project.description) != ("also rolled back", "rolled back")
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@autocommit")
        assert cursor.fetchone()[0] == 1


def test_autocommit_turned_off_by_hand_still_holds_statements_until_commit(on_mysql, project):
    transaction.set_autocommit(False)
    try:
        Project.objects.filter(pk=project.pk).update(description="held")
        transaction.rollback()
        Project.objects.filter(pk=project.pk).update(description="held again")  # a new transaction
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert Project.objects.get(pk=project.pk).description != "held again"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 06:09:11.123456", datetime(2026, 11, 28, 6, 9, 11, 123456)),
        ("2026-11-28 06:09:11.5", datetime(2026, 11, 28, 6, 9, 11, 500000)),
        ("2026-11-28 06:09:11", datetime(2026, 11, 28, 6, 9, 11)),
        ("0000-00-00 00:00:00", None),  # MySQL's zero date, which MySQLdb gives as None too
    ],
)
def test_datetime_text_converts_as_mysqldb_converts_it(text, expected):
    assert backend.datetime_or_none(text) == expected
    assert MySQLdb.times.DateTime_or_None(text) == expected


def test_datetimes_read_back_exactly_as_written(on_mysql):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(%s AS DATETIME(6)), CAST(%s AS DATETIME), CAST(NULL AS DATETIME), TIMESTAMP(%s)",
            ["2026-11-28 06:09:11.000042", "2026-11-28 06:09:11", "1999-12-31 23:59:59.999999"],
        )
        row = cursor.fetchone()
    assert row == (
        datetime(2026, 11, 28, 6, 9, 11, 42),
        datetime(2026, 11, 28, 6, 9, 11),
        None,
        datetime(1999, 12, 31, 23, 59, 59, 999999),
    )
    assert connection.connection.converter[MySQLdb.constants.FIELD_TYPE.DATETIME] is backend.datetime_or_none


# --- Tripwires, in both passes: the Django hooks the backend overrides are still there, still called


def test_the_backend_overrides_methods_that_djangos_mysql_backend_still_has():
    parent = backend.base.DatabaseWrapper
    for name in ("_set_autocommit", "_cursor", "close_if_unusable_or_obsolete", "get_connection_params"):
        assert name in vars(backend.DatabaseWrapper), name
        assert callable(getattr(parent, name)), name
    for name in ("get_new_connection", "connect"):
        assert callable(getattr(parent, name)), name


def test_django_begins_a_transaction_through_the_hook_the_backend_provides():
    import inspect

    from django.db import transaction as django_transaction
    from django.db.backends.base.base import BaseDatabaseWrapper

    # atomic() asks for a transaction with this flag; set_autocommit then calls the hook when the
    # backend has one (the MySQL backend's BEGIN), instead of switching autocommit off.
    assert "force_begin_transaction_with_broken_autocommit=True" in inspect.getsource(django_transaction.Atomic)
    source = inspect.getsource(BaseDatabaseWrapper.set_autocommit)
    assert 'hasattr(self, "_start_transaction_under_autocommit")' in source
    assert "self._start_transaction_under_autocommit()" in source


def test_django_skips_the_ping_of_a_connection_marked_health_checked():
    import inspect

    from django.db.backends.base.base import BaseDatabaseWrapper

    # The backend marks a connection that answered within HEALTHY_SECONDS as checked, after the
    # request boundary reset the mark; the check before a statement then sends no ping.
    assert "self.health_check_done = False" in inspect.getsource(BaseDatabaseWrapper.close_if_unusable_or_obsolete)
    assert "or self.health_check_done" in inspect.getsource(BaseDatabaseWrapper.close_if_health_check_failed)
    assert "self.close_if_health_check_failed()" in inspect.getsource(BaseDatabaseWrapper._cursor)


def test_the_backend_hands_mysqldb_its_datetime_converters():
    settings_dict = {
        "ENGINE": "taskflow.db.mysql",
        "NAME": "unused",
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }
    params = backend.DatabaseWrapper(settings_dict).get_connection_params()  # connects to nothing
    assert params["conv"] is backend.CONVERSIONS
    assert backend.CONVERSIONS[MySQLdb.constants.FIELD_TYPE.DATETIME] is backend.datetime_or_none
