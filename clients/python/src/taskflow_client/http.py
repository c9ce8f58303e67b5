"""JSON over HTTP to a TaskFlow server, signed in with a password or with a token.

Only the standard library (urllib). A client signed in with a password keeps its access token
fresh by itself: on a 401 it renews the token pair (refresh token first, else the password) and
sends the request once more. A client given a token (a JWT access token or a personal access token,
`tfp_...`) cannot renew it, so a 401 is an error for its caller.

Two failures are told apart, because a write queue must treat them differently: `ApiError` is an
answer from the server (it decided), `Unreachable` is no answer (the request may or may not have
been carried out).
"""

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

USER_AGENT = "taskflow-client/0.1"


class ApiError(Exception):
    """The server answered with a status of 400 or more; `body` is its parsed JSON."""

    def __init__(self, method: str, url: str, status: int, body: Any, headers: Message) -> None:
        super().__init__(f"{method} {url}: {status} {body!r}")
        self.status, self.body, self.headers = status, body, headers


class Unreachable(Exception):
    """No answer came (refused, reset, timed out, cut off mid-answer): the request may have been
    carried out or not. Send it again with the same Idempotency-Key to find out safely."""


@dataclass(frozen=True)
class Response:
    """A successful answer: `headers` compares names ignoring case; `body` is parsed JSON (None
    when empty)."""

    status: int
    headers: Message
    body: Any


class Client:
    """A TaskFlow server at `base_url` (`http://127.0.0.1:8000`), as one user: `username` and
    `password`, or a `token`. Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10,
    ) -> None:
        if (token is None) == (password is None) or (password is not None and not username):
            raise ValueError("Give either `username` and `password`, or `token`.")
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.timeout = timeout
        self._access, self._refresh = token, None
        # Renewals are one at a time: refresh tokens rotate, so two renewals with the same one
        # would cost the second a password login.
        self._renewal = threading.Lock()

    @property
    def renews(self) -> bool:
        """Whether this client gets its own access tokens (a password login), and so must renew
        them before they expire (minutes)."""
        return self.password is not None

    @property
    def ws_url(self) -> str:
        """The server's WebSocket address (`ws://.../ws/`, or `wss://` for https)."""
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/"

    def access_token(self) -> str:
        """The token to authenticate with now; a password login signs in first if it has none."""
        if self._access is None:
            self.renew()
        return self._access

    def renew(self) -> None:
        """A fresh access token: by the refresh token if there is one, else by the password. A
        client given a token cannot renew it: this checks that it still works (ApiError 401 if not)."""
        if not self.renews:
            self.me()
            return
        with self._renewal:
            self._renew()

    def _renew(self) -> None:
        if self._refresh is not None:
            try:
                tokens = self._send("POST", "/api/auth/token/refresh/", {"refresh": self._refresh}, {}, auth=False)
                self._access, self._refresh = tokens.body["access"], tokens.body["refresh"]
                return
            except ApiError:  # expired, or blacklisted by a password change: sign in again
                self._refresh = None
        credentials = {"username": self.username, "password": self.password}
        tokens = self._send("POST", "/api/auth/token/", credentials, {}, auth=False)
        self._access, self._refresh = tokens.body["access"], tokens.body["refresh"]

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Response:
        """Send one request (`path` under the base URL, or a whole URL such as a page's `next`)
        and return its answer; ApiError for a status >= 400, Unreachable when no answer came."""
        headers = headers or {}
        sent_with = self.access_token()
        try:
            return self._send(method, path, body, headers, auth=True)
        except ApiError as error:
            if error.status != 401 or not self.renews:
                raise
        # The access token lapsed: renew it, unless another thread did meanwhile, and send again.
        with self._renewal:
            if self._access == sent_with:
                self._renew()
        return self._send(method, path, body, headers, auth=True)

    def pages(self, path: str) -> Iterator[Response]:
        """Every page of a list endpoint, following `next`."""
        url: str | None = path
        while url is not None:
            page = self.request("GET", url)
            yield page
            url = page.body["next"]

    def list_all(self, path: str) -> list[dict]:
        """The results of every page of a list endpoint."""
        return [item for page in self.pages(path) for item in page.body["results"]]

    def me(self) -> dict:
        """The signed-in user: `{id, username, email, ...}`."""
        return self.request("GET", "/api/auth/me/").body

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str], *, auth: bool) -> Response:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self._access}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    return Response(answer.status, answer.headers, _parse(answer.read()))
            except urllib.error.HTTPError as error:
                with error:
                    raise ApiError(method, url, error.code, _parse(error.read()), error.headers) from None
        # OSError covers URLError, refused and reset connections and timeouts; HTTPException a
        # server that closed without answering (RemoteDisconnected) or mid-answer (IncompleteRead).
        except (OSError, http.client.HTTPException) as error:
            raise Unreachable(f"{method} {url}: {error!r}") from error


def _parse(payload: bytes) -> Any:
    """JSON, or the text itself when it is not (a proxy's error page)."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
