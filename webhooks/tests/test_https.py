"""HTTPS deliveries: the socket goes to the checked address, while TLS checks the certificate (and
sends SNI) for the URL's host name, so pinning the address never weakens certificate checks.

The receiver serves a self-signed certificate made with the `openssl` command; the client trusts it
through SSL_CERT_FILE, the standard library's way of naming extra trusted certificates.
"""

import ssl
import subprocess

import pytest

from tasks.tests.factories import make_task
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.tests.fake_dns import HOOKS_HOST
from webhooks.tests.receiver import Receiver

# The certificates come from the `openssl` command (Debian's openssl package); without it these fail.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict:
    """Self-signed certificates: `ours` for the hooks host name, `other` for another name."""
    folder = tmp_path_factory.mktemp("certificates")
    made = {}
    for name, dns_name in (("ours", HOOKS_HOST), ("other", "other.example.test")):
        cert, key = folder / f"{name}.pem", folder / f"{name}.key"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-nodes", "-days", "2", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", f"/CN={dns_name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
                "-addext", f"subjectAltName=DNS:{dns_name}",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        made[name] = (cert, key)
    return made


def tls_receiver(certificate) -> Receiver:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return Receiver(tls=context).start()


@pytest.fixture
def https_endpoint(make_endpoint, dns):
    """`https_endpoint(receiver)`: an endpoint at https://hooks.example.test:<port>/hook, that name
    resolving to the receiver's loopback address."""

    def make(receiver: Receiver):
        dns.point(HOOKS_HOST, "127.0.0.1")
        return make_endpoint(url=f"https://{HOOKS_HOST}:{receiver.port}/hook")

    return make


@pytest.fixture
def ours(certificates):
    receiver = tls_receiver(certificates["ours"])
    yield receiver
    receiver.stop()


@pytest.fixture
def others(certificates):
    receiver = tls_receiver(certificates["other"])
    yield receiver
    receiver.stop()


def test_https_delivery_verifies_the_certificate_of_the_url_host(
    project, https_endpoint, ours, certificates, run_jobs, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ours"][0]))
    endpoint = https_endpoint(ours)
    make_task(project=project)
    run_jobs()

    [request] = ours.requests
    assert request.headers["Host"] == f"{HOOKS_HOST}:{ours.port}"
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED


def test_an_untrusted_certificate_fails_the_attempt_before_anything_is_sent(
    project, https_endpoint, ours, run_jobs, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    endpoint = https_endpoint(ours)
    make_task(project=project)
    run_jobs()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert ours.requests == []
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.error.startswith("TLS certificate not accepted")


def test_a_trusted_certificate_for_another_name_fails_the_attempt(
    project, https_endpoint, others, certificates, run_jobs, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["other"][0]))
    endpoint = https_endpoint(others)
    make_task(project=project)
    run_jobs()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert others.requests == []
    assert delivery.error.startswith("TLS certificate not accepted")
    assert "mismatch" in delivery.error.lower()
