"""A stand-in for DNS in tests: chosen names resolve to chosen addresses, which may change between lookups."""

import socket

# A name for tests to point wherever they need (`.test` names never resolve for real).
HOOKS_HOST = "hooks.example.test"


class FakeDNS:
    """Answers lookups of chosen names with chosen addresses, one answer after the other (the last one
    repeats); every other lookup (addresses, real names) goes to the real resolver."""

    def __init__(self, monkeypatch):
        self._real = socket.getaddrinfo
        self._answers: dict[str, list[tuple[str, ...]]] = {}
        self.lookups: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)

    def point(self, host: str, *answers: str | tuple[str, ...]) -> None:
        """The next lookups of `host` get these answers in turn: an address, or a tuple of them."""
        self._answers[host] = [answer if isinstance(answer, tuple) else (answer,) for answer in answers]
        self.lookups.clear()

    def _getaddrinfo(self, host, port, *args, **kwargs):
        if host not in self._answers:
            return self._real(host, port, *args, **kwargs)
        self.lookups.append(host)
        answers = self._answers[host]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]
