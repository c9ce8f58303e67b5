"""MySQL / MariaDB: Django's backend, pinging a kept connection only when it has been quiet.

With CONN_HEALTH_CHECKS, Django pings a persistent connection before the first statement of every
request: a round trip per request, an eighth of a task read on this hardware (bench/README.md).
Here a connection whose statements went through in the last HEALTHY_SECONDS is trusted without a
ping; a quieter one is pinged as before. A database restarted within that second can fail one
request per kept connection (the connection is then dropped, and the next request reconnects).
"""

import time

from django.db.backends.mysql import base

# A connection that answered this recently is taken as alive without a ping.
HEALTHY_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.answered_at = float("-inf")
        self.used_since_check = False

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

    def connect(self) -> None:
        super().connect()
        self.answered_at = float("-inf")
