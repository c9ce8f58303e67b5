"""The webhook admin as an operator uses it: endpoint and delivery pages, edits, and redelivery."""

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from tasks.tests.factories import make_task
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def delivered(project, endpoint, run_jobs) -> WebhookDelivery:
    """A delivery of `endpoint` that the receiver accepted."""
    make_task(project=project, title="Delivered")
    run_jobs()
    return WebhookDelivery.objects.get(endpoint=endpoint)


def test_endpoint_list_shows_counts_but_not_the_secret(admin_client, endpoint, delivered):
    response = admin_client.get(ENDPOINTS)

    assert response.status_code == 200
    [row] = response.context["cl"].result_list
    assert (row.succeeded_count, row.pending_count, row.failed_count) == (1, 0, 0)
    assert endpoint.secret not in response.content.decode()


def test_endpoint_change_page_renders_without_the_secret_and_links_its_deliveries(admin_client, endpoint):
    response = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert endpoint.secret not in page
    assert f"{DELIVERIES}?endpoint__id__exact={endpoint.pk}" in page


def test_endpoints_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(f"{ENDPOINTS}add/").status_code == 403


def test_an_operator_switches_an_endpoint_off(admin_client, endpoint):
    response = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/",
        {"url": endpoint.url, "event_types": ["task.created", "task.updated"]},
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.event_types == ["task.created", "task.updated"]


def test_an_endpoint_whose_url_is_now_refused_can_still_be_switched_off(admin_client, endpoint, settings):
    settings.TASKFLOW_WEBHOOK_ALLOW_PRIVATE = False  # the loopback receiver is refused from now on

    response = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/", {"url": endpoint.url, "event_types": ["task.created"]}
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active is False


def test_a_bad_url_is_refused_on_the_change_form(admin_client, endpoint):
    response = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/", {"url": "ftp://example.com/", "event_types": ["task.created"]}
    )

    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1")


def test_deleting_an_endpoint_takes_its_deliveries_along(admin_client, endpoint, delivered):
    response = admin_client.post(f"{ENDPOINTS}{endpoint.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_delivery_list_renders_and_filters_by_status(admin_client, delivered):
    assert admin_client.get(DELIVERIES).status_code == 200
    assert list(admin_client.get(DELIVERIES, {"status__exact": "succeeded"}).context["cl"].result_list) == [delivered]
    assert list(admin_client.get(DELIVERIES, {"status__exact": "failed"}).context["cl"].result_list) == []


def test_delivery_page_shows_payload_and_answer_read_only(admin_client, delivered):
    response = admin_client.get(f"{DELIVERIES}{delivered.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Delivered" in page  # the task title, inside the payload
    assert "answer 200" in page
    assert 'name="status"' not in page  # no form fields: the log is history


def test_redeliver_action_queues_a_new_delivery_that_is_sent(admin_client, endpoint, delivered, receiver, run_jobs):
    response = admin_client.post(
        DELIVERIES, {"action": "redeliver", "_selected_action": [str(delivered.pk)]}, follow=True
    )
    run_jobs()

    assert response.status_code == 200
    assert "1 redelivery(ies) queued." in [str(message) for message in response.context["messages"]]
    redelivery = WebhookDelivery.objects.get(redelivery_of=delivered)
    assert redelivery.status == DeliveryStatus.SUCCEEDED
    assert receiver.requests[-1].headers["X-TaskFlow-Delivery"] == str(redelivery.pk)
