"""Real TaskFlow servers on the embedded default (a SQLite file of their own, no Redis), with users
ready to sign in, for tests of what the servers themselves do: close codes, timeouts, stopping.

They run in both passes: they share nothing with the test's own database. Migrating takes
seconds, so each test process migrates one database once, with its users, and every server gets
a copy of it. Also here: a WebSocket client written against the wire format (RFC 6455), for what
real clients never do: announce a frame they do not send, or stay silent when pinged.
"""

import atexit
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from realtime.tests.servers import ROOT, TaskFlowServer, sqlite_migrate

USERS = 40
# Long enough for the slowest test session: the tokens are minted once per test process.
TOKEN_MINUTES = 240

_MINT = f"""
import json
from accounts.models import User
from rest_framework_simplejwt.tokens import AccessToken
users = [User(username=f"live-{{index}}", email=f"live-{{index}}@example.com") for index in range({USERS})]
for user in users:
    user.set_unusable_password()
User.objects.bulk_create(users)
print(json.dumps([str(AccessToken.for_user(user)) for user in User.objects.filter(username__startswith="live-")]))
"""

_template: tuple[Path, list[str]] | None = None
_tokens_given = 0


def _embedded_env(database: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "taskflow.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        **settings,
    }


def _migrated_template() -> tuple[Path, list[str]]:
    """The migrated database of this test process, and an access token for each of its users."""
    global _template
    if _template is None:
        directory = Path(tempfile.mkdtemp(prefix="taskflow-live-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        database = directory / "db.sqlite3"
        env = _embedded_env(database, JWT_ACCESS_MINUTES=str(TOKEN_MINUTES))
        sqlite_migrate(database)  # the migrated file this test process shares with its other servers
        minted = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", _MINT],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        _template = database, json.loads(minted.stdout.splitlines()[-1])
    return _template


def embedded_server(server: str, directory: Path, **settings: str) -> TaskFlowServer:
    """A TaskFlow server (`daphne` or `uvicorn`, not started) on a copy of the migrated database in
    `directory`, with these settings (environment variables) on top of the test defaults."""
    template, _ = _migrated_template()
    database = directory / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
    shutil.copyfile(template, database)
    return TaskFlowServer(
        server=server, database_url=f"sqlite:///{database}", redis_url="", channel_prefix="", **settings
    )


def access_token() -> str:
    """An access token of a user nobody else in this test process signs in as."""
    global _tokens_given
    _, tokens = _migrated_template()
    if _tokens_given >= len(tokens):
        raise RuntimeError(f"more than {USERS} users asked for: raise realtime.tests.live.USERS")
    _tokens_given += 1
    return tokens[_tokens_given - 1]


def auth_frame(token: str) -> str:
    return json.dumps({"type": "auth", "token": token})


# --- The wire ---------------------------------------------------------------------------------

OPCODE_TEXT, OPCODE_CONTINUATION, OPCODE_CLOSE, OPCODE_PING = 0x1, 0x0, 0x8, 0x9


class ConnectionDropped(Exception):
    """The server closed the TCP connection without (or before) a close frame."""


class WireWebSocket:
    """A WebSocket client that writes frames byte by byte: open(), send_frame(), close_code()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def open(self) -> "WireWebSocket":
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self.buffer:
            self._read_more(deadline=time.monotonic() + 5)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise AssertionError(f"the server refused the WebSocket: {status!r}")
        return self

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def send_frame(self, payload: bytes, *, opcode: int = OPCODE_TEXT, fin: bool = True, length: int | None = None):
        """Send one masked frame; `length` announces another length than the payload's (the rest
        of the frame is then never sent)."""
        length = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | opcode])
        if length < 126:
            head += bytes([0x80 | length])
        elif length < 2**16:
            head += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def read_frame(self, timeout: float) -> tuple[int, bytes]:
        """The next frame from the server (opcode, payload); pings are not answered."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            self._read_more(deadline)

    def close_code(self, timeout: float) -> int:
        """The code of the close frame the server sends next (skipping other frames)."""
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self.read_frame(max(0.01, deadline - time.monotonic()))
            if opcode == OPCODE_CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            length, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if len(self.buffer) < offset + length:
            return None
        payload, self.buffer = self.buffer[offset : offset + length], self.buffer[offset + length :]
        return opcode, payload

    def _read_more(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("nothing more came from the server in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError as error:
            raise ConnectionDropped("the server reset the connection") from error
        except TimeoutError:
            raise TimeoutError("nothing more came from the server in time") from None
        if not data:
            raise ConnectionDropped("the server closed the connection")
        self.buffer += data
