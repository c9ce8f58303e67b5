"""Fixtures of the webhook tests: a real receiver on loopback, and endpoints pointing at it."""

import pytest

from webhooks import services
from webhooks.models import WebhookEndpoint
from webhooks.tests.fake_dns import FakeDNS
from webhooks.tests.receiver import Receiver


@pytest.fixture
def receiver():
    """A webhook receiver listening on 127.0.0.1 (a port of its own), answering 200 by default."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def make_endpoint(project, receiver):
    """`make_endpoint(**fields)`: an endpoint of `project` (at the receiver unless `url` is given)."""

    def make(**fields) -> WebhookEndpoint:
        fields.setdefault("url", receiver.url())
        fields.setdefault("secret", "a-test-secret-of-enough-length")
        return services.endpoint_create(project=project, actor=project.owner, operator=True, **fields)

    return make


@pytest.fixture
def endpoint(make_endpoint) -> WebhookEndpoint:
    """An active endpoint of `project` at the receiver, receiving every event type."""
    return make_endpoint()


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    """Fake answers for the names a test points (`dns.point(name, address, ...)`); others resolve for real."""
    return FakeDNS(monkeypatch)
