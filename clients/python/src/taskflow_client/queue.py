"""An offline write queue: writes made without a connection, sent in order once there is one.

Each write gets its Idempotency-Key when it is queued, and is stored, key and all, in a SQLite file
before add() returns; every change of its state is committed there before the next write is sent.
So whatever happens (no network, a server that dies mid-request, an answer lost on the way, this
program killed and started again) the write is sent again with the same key until an answer comes,
and the server carries it out once: a repeat of a write it already made is answered from the first
answer, with `Idempotency-Replayed: true` (docs/api.md, "Idempotent writes").

What an answer means for the queue:

- 2xx: `done` (its body kept, and whether it was a replay);
- no answer (Unreachable), a 5xx, 409 (the key's first request is still running) or 429: the write
  stays `pending` and the pass stops there, so that writes are carried out in the order made;
- 401: the write stays `pending` and the ApiError is raised, since the credentials, not the write,
  were refused (sign in again, then send the queue);
- any other 4xx: `failed`, for good (its status and body kept), and the pass goes on with the
  next write.
"""

import email.utils
import json
import random
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taskflow_client.http import ApiError, Client, Unreachable

PENDING, DONE, FAILED = "pending", "done", "failed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# drain()'s delays between passes: doubled after each pass that sent nothing, up to the last,
# each one a random part of itself (jitter), unless the server asked for longer (Retry-After).
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT,
    if_match INTEGER,
    merge INTEGER NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    response TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""
_COLUMNS = "id, key, method, path, body, if_match, merge, state, status, response, replayed, attempts"


@dataclass(frozen=True)
class QueuedWrite:
    """A write as the queue last stored it. `status` and `response` (the parsed body) are those of
    its last answer; `attempts` counts the times it was sent."""

    id: int
    key: str
    method: str
    path: str
    body: Any
    if_match: int | None
    merge: bool
    state: str
    status: int | None
    response: Any
    replayed: bool
    attempts: int

    @classmethod
    def _from_row(cls, row: tuple) -> "QueuedWrite":
        id_, key, method, path, body, if_match, merge, state, status, response, replayed, attempts = row
        return cls(
            id=id_,
            key=key,
            method=method,
            path=path,
            body=None if body is None else json.loads(body),
            if_match=if_match,
            merge=bool(merge),
            state=state,
            status=status,
            response=None if response is None else json.loads(response),
            replayed=bool(replayed),
            attempts=attempts,
        )

    def headers(self) -> dict[str, str]:
        """The headers it is sent with, every time."""
        headers = {"Idempotency-Key": self.key}
        if self.if_match is not None:
            headers["If-Match"] = f'"{self.if_match}"'
        if self.merge:
            headers["Prefer"] = "merge"
        return headers


@dataclass(frozen=True)
class SendReport:
    """What one send_pending() pass did: the writes it finished (done or failed), in order, and the
    write it stopped at, still pending (None: nothing is left), with the seconds the server asked
    to wait before sending it again, if it did."""

    finished: list[QueuedWrite]
    stopped_at: QueuedWrite | None
    retry_after: float | None


class WriteQueue:
    """The queue in the SQLite file at `path` (made if missing). Safe to use from several threads:
    add() never waits for a pass that is sending, and passes run one at a time."""

    def __init__(self, path: str | Path) -> None:
        # Autocommit: each statement is its own transaction, on disk when it returns.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(_SCHEMA)
        self._db_lock = threading.Lock()
        self._send_lock = threading.Lock()

    def close(self) -> None:
        """Close the file; what it holds stays for the next WriteQueue on it."""
        with self._db_lock:
            self._db.close()

    def __enter__(self) -> "WriteQueue":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def add(
        self, method: str, path: str, body: Any = None, *, if_match: int | None = None, merge: bool = False
    ) -> QueuedWrite:
        """Queue a write (`path` under the server's base URL, `/api/...`) with a new Idempotency-Key;
        stored before this returns. `if_match` is the task version it was made from; with `merge`,
        a PATCH goes through on top of other people's changes to other fields."""
        method = method.upper()
        if method not in WRITE_METHODS:
            raise ValueError(f"A write is one of {', '.join(sorted(WRITE_METHODS))}, not {method}.")
        if not path.startswith("/"):
            raise ValueError("`path` is the path under the server's address, such as /api/tasks/.")
        with self._db_lock:
            cursor = self._db.execute(
                "INSERT INTO writes (key, method, path, body, if_match, merge, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), method, path, _dumps(body), if_match, int(merge), PENDING),
            )
            return self._get(cursor.lastrowid)

    def get(self, write_id: int) -> QueuedWrite:
        """The write with this id, as stored now (KeyError if there is none)."""
        with self._db_lock:
            return self._get(write_id)

    def writes(self, state: str | None = None) -> list[QueuedWrite]:
        """Every write, or those in `state` (`pending`, `done`, `failed`), in the order queued."""
        with self._db_lock:
            if state is None:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM writes ORDER BY id")
            else:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM writes WHERE state = ? ORDER BY id", (state,))
            return [QueuedWrite._from_row(row) for row in rows]

    def remove_finished(self) -> int:
        """Forget the writes that are done or failed (once their answers were looked at); returns
        how many."""
        with self._db_lock:
            return self._db.execute("DELETE FROM writes WHERE state != ?", (PENDING,)).rowcount

    def send_pending(self, client: Client) -> SendReport:
        """One pass: send the pending writes in order, until none is left or one must wait."""
        finished = []
        with self._send_lock:
            while (write := self._next_pending()) is not None:
                # Counted before it goes: a crash while it is out still shows it was sent.
                self._update(write.id, attempts=write.attempts + 1)
                try:
                    answer = client.request(write.method, write.path, write.body, headers=write.headers())
                except Unreachable:
                    return SendReport(finished, self.get(write.id), None)
                except ApiError as error:
                    if error.status >= 500 or error.status in (409, 429):
                        self._update(write.id, status=error.status, response=_dumps(error.body))
                        return SendReport(finished, self.get(write.id), _retry_after(error.headers))
                    if error.status == 401:
                        raise
                    self._update(write.id, state=FAILED, status=error.status, response=_dumps(error.body))
                else:
                    replayed = answer.headers.get("Idempotency-Replayed") == "true"
                    self._update(
                        write.id, state=DONE, status=answer.status, response=_dumps(answer.body), replayed=int(replayed)
                    )
                finished.append(self.get(write.id))
        return SendReport(finished, None, None)

    def drain(self, client: Client, *, timeout: float | None = None) -> list[QueuedWrite]:
        """Send passes, with backoff between them, until nothing is pending or `timeout` seconds
        have passed; returns the writes still pending (none: all sent)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = BACKOFF_FIRST_SECONDS
        while (report := self.send_pending(client)).stopped_at is not None:
            if report.finished:  # progress: the trouble may be over
                delay = BACKOFF_FIRST_SECONDS
            pause = max(delay * (0.5 + random.random() / 2), report.retry_after or 0)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self.writes(PENDING)
                pause = min(pause, remaining)
            time.sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        return []

    def _next_pending(self) -> QueuedWrite | None:
        with self._db_lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM writes WHERE state = ? ORDER BY id LIMIT 1", (PENDING,)
            ).fetchone()
        return None if row is None else QueuedWrite._from_row(row)

    def _get(self, write_id: int) -> QueuedWrite:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM writes WHERE id = ?", (write_id,)).fetchone()
        if row is None:
            raise KeyError(write_id)
        return QueuedWrite._from_row(row)

    def _update(self, write_id: int, **columns) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._db_lock:
            self._db.execute(f"UPDATE writes SET {assignments} WHERE id = ?", (*columns.values(), write_id))


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _retry_after(headers) -> float | None:
    """Retry-After in seconds: a number of them, or an HTTP date."""
    value = (headers.get("Retry-After") or "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # HTTP dates are in GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
