"""MySQL / MariaDB: Django's backend with fewer round trips per request and per transaction.

Transactions: Django starts one by turning autocommit off (`SET autocommit=0`) and, after COMMIT,
turns it on again (`SET autocommit=1`): three round trips around every write. Here `atomic()`
sends BEGIN, the way Django's SQLite backend does, and the session stays in autocommit mode, so
COMMIT (or ROLLBACK) is all there is after it. Turning autocommit off by hand
(`transaction.set_autocommit(False)`) still does what it does on Django's backend.

Health checks: with CONN_HEALTH_CHECKS, Django pings a persistent connection before the first statement of every
request: a round trip per request, an eighth of a task read on this hardware (bench/README.md).
Here a connection whose statements went through in the last HEALTHY_SECONDS is trusted without a
ping; a quieter one is pinged as before. A database restarted within that second can fail one
request per kept connection (the connection is then dropped, and the next request reconnects).

Datetimes: MySQLdb turns each DATETIME value into a datetime in Python code (about 1 us each;
a page of 50 tasks has 150); here the standard library's C parser does it (about 0.05 us).
"""

import time
from datetime import datetime

from django.db.backends.mysql import base
from MySQLdb.constants import FIELD_TYPE

# A connection that answered this recently is taken as alive without a ping.
HEALTHY_SECONDS = 1.0


def datetime_or_none(text: str) -> datetime | None:
    """A DATETIME or TIMESTAMP value as a naive datetime; None for what is not one (MySQL's zero
    date), as MySQLdb's own converter answers."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


CONVERSIONS = {**base.django_conversions, FIELD_TYPE.DATETIME: datetime_or_none, FIELD_TYPE.TIMESTAMP: datetime_or_none}


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.answered_at = float("-inf")
        self.used_since_check = False
        self.session_autocommit = True

    def _start_transaction_under_autocommit(self) -> None:
        # What Django calls when atomic() starts a transaction (instead of _set_autocommit(False)).
        self.cursor().execute("BEGIN")

    def _set_autocommit(self, autocommit: bool) -> None:
        if autocommit and self.session_autocommit:
            return  # a BEGIN ... COMMIT left the session in autocommit mode: nothing to send
        super()._set_autocommit(autocommit)
        self.session_autocommit = autocommit

    def _cursor(self, *args, **kwargs):
        self.used_since_check = True
        return super()._cursor(*args, **kwargs)

    def close_if_unusable_or_obsolete(self) -> None:
        # Runs when a request starts and when it ends. A request whose statements raised no
        # connection error proves the connection alive at its end.
        if self.connection is not None and self.used_since_check and not self.errors_occurred:
            self.answered_at = time.monotonic()
        self.used_since_check = False
        super().close_if_unusable_or_obsolete()
        if self.connection is not None and time.monotonic() - self.answered_at < HEALTHY_SECONDS:
            self.health_check_done = True

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        if params["conv"] is base.django_conversions:  # not one given in OPTIONS
            params["conv"] = CONVERSIONS
        return params

    def get_new_connection(self, conn_params):
        # A new session starts in the server's default mode, which Django then sets explicitly.
        self.session_autocommit = False
        return super().get_new_connection(conn_params)

    def connect(self) -> None:
        super().connect()
        self.answered_at = float("-inf")
