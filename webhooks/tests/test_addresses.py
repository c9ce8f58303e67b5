"""Where webhooks may go: http(s) URLs only, and in production only public addresses, checked when an
endpoint is saved and again at every attempt, which then connects to exactly the address checked.

Host names other than `localhost` are answered by a fake resolver (the `dns` fixture), so the tests
can make a name change its address between the check and the connection, as DNS rebinding does.
"""

import ipaddress

import pytest

from tasks.tests.factories import make_task
from webhooks.addresses import URLRefused, address_is_public, url_parse
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.tests.fake_dns import HOOKS_HOST

pytestmark = pytest.mark.django_db

PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def production_rule(settings):
    """Private addresses refused, as in production; nothing allow-listed."""
    settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE = False
    settings.TASKFLOW_WEBHOOK_ALLOWED_HOSTS = []
    return settings


def create(client, project, url: str):
    return client.post(f"/api/projects/{project.pk}/webhooks/", {"url": url}, format="json")


# --- The form of a URL ----------------------------------------------------------------------------


def test_a_url_is_split_into_what_the_request_needs():
    target = url_parse("HTTPS://Hooks.Example.COM/in/ü?x=1#fragment")

    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert target.path == "/in/%C3%BC?x=1"


def test_an_international_host_name_is_sent_in_its_ascii_form():
    assert url_parse("http://bücher.example/").host == "xn--bcher-kva.example"


def test_an_explicit_port_and_an_ipv6_literal_are_understood():
    target = url_parse("http://[2001:db8::1]:8080")

    assert (target.host, target.port, target.path) == ("2001:db8::1", 8080, "/")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://user@example.com/",
        "http://:secret@example.com/",
        "http://example.com:0/",
        "http:x",
        "http://exa\tmple.com/",
    ],
)
def test_urls_that_cannot_be_webhooks_are_refused(url):
    with pytest.raises(URLRefused):
        url_parse(url)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_special_addresses_are_not_public(address):
    assert not address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC_ADDRESS, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_internet_addresses_are_public(address):
    assert address_is_public(ipaddress.ip_address(address))


# --- When an endpoint is saved --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_are_refused_in_production(client, project, production_rule, url):
    response = create(client, project, url)

    assert response.status_code == 400
    assert "not public" in response.json()["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_a_host_name_that_resolves_to_a_private_address_is_refused(client, project, production_rule, dns):
    dns.point(HOOKS_HOST, "10.0.0.7")

    response = create(client, project, f"https://{HOOKS_HOST}/hook")

    assert response.status_code == 400
    assert "10.0.0.7" in response.json()["url"][0]


def test_a_host_name_with_one_private_address_among_public_ones_is_refused(client, project, production_rule, dns):
    dns.point(HOOKS_HOST, (PUBLIC_ADDRESS, "192.168.0.10"))

    response = create(client, project, f"https://{HOOKS_HOST}/hook")

    assert response.status_code == 400
    assert "192.168.0.10" in response.json()["url"][0]


def test_a_public_host_name_is_accepted_in_production(client, project, production_rule, dns):
    dns.point(HOOKS_HOST, PUBLIC_ADDRESS)

    assert create(client, project, f"https://{HOOKS_HOST}/hook").status_code == 201


def test_a_host_name_that_does_not_resolve_is_refused_in_production(client, project, production_rule):
    response = create(client, project, "https://no-such-host.invalid/hook")

    assert response.status_code == 400
    assert "could not be resolved" in response.json()["url"][0]


@pytest.mark.parametrize("allowed", ["127.0.0.0/8", "127.0.0.1", "localhost"])
def test_allow_listed_hosts_and_networks_are_accepted_in_production(
    client, project, production_rule, receiver, allowed
):
    production_rule.TASKFLOW_WEBHOOK_ALLOWED_HOSTS = [allowed]
    host = "localhost" if allowed == "localhost" else "127.0.0.1"

    assert create(client, project, receiver.url(host=host)).status_code == 201


def test_an_allow_listed_network_does_not_open_other_private_addresses(client, project, production_rule):
    production_rule.TASKFLOW_WEBHOOK_ALLOWED_HOSTS = ["10.1.0.0/16"]

    assert create(client, project, "http://10.1.2.3/hook").status_code == 201
    assert create(client, project, "http://10.2.0.1/hook").status_code == 400


def test_private_addresses_are_accepted_outside_production(client, project, settings, receiver):
    settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE = True

    assert create(client, project, receiver.url()).status_code == 201


# --- At every attempt -----------------------------------------------------------------------------


def test_an_attempt_to_a_url_refused_since_it_was_saved_is_failed_unsent(
    project, endpoint, receiver, run_jobs, settings
):
    settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE = False
    make_task(project=project)
    run_jobs()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert receiver.requests == []
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.PENDING, 1, None)
    assert delivery.error.startswith("Not sent:")
    assert "not public" in delivery.error


def test_an_attempt_to_an_allow_listed_private_address_is_sent(project, endpoint, receiver, run_jobs, settings):
    settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE = False
    settings.TASKFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    make_task(project=project)
    run_jobs()

    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED


def test_a_name_rebound_to_a_private_address_after_saving_is_refused(
    project, make_endpoint, receiver, run_jobs, production_rule, dns
):
    dns.point(HOOKS_HOST, PUBLIC_ADDRESS, "127.0.0.1")
    endpoint = make_endpoint(url=f"http://{HOOKS_HOST}:{receiver.port}/hook")
    make_task(project=project)
    run_jobs()

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert receiver.requests == []
    assert "127.0.0.1" in delivery.error and "not public" in delivery.error


def test_an_attempt_connects_to_the_address_it_checked_not_to_a_later_answer(
    project, make_endpoint, receiver, run_jobs, production_rule, dns
):
    production_rule.TASKFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    production_rule.TASKFLOW_WEBHOOK_TIMEOUT = 2
    dns.point(HOOKS_HOST, "127.0.0.1")
    endpoint = make_endpoint(url=f"http://{HOOKS_HOST}:{receiver.port}/hook")
    make_task(project=project)
    # The attempt's check gets the receiver's address; a second lookup would get another one.
    dns.point(HOOKS_HOST, "127.0.0.1", "10.255.255.1")
    run_jobs()

    [request] = receiver.requests
    assert request.headers["Host"] == f"{HOOKS_HOST}:{receiver.port}"
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED
    assert dns.lookups == [HOOKS_HOST]
