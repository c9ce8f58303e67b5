"""The webhook API as a project admin uses it: endpoints, their delivery logs and redelivery."""

import pytest

from accounts.tests.factories import UserFactory
from realtime.models import EventType
from tasks import services as task_services
from tasks.models import Role
from tasks.tests.factories import make_task
from webhooks.models import ENDPOINTS_PER_PROJECT_MAX, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.tests.receiver import signature_of

pytestmark = pytest.mark.django_db


def hooks_url(project) -> str:
    return f"/api/projects/{project.pk}/webhooks/"


def hook_url(project, endpoint) -> str:
    return f"/api/projects/{project.pk}/webhooks/{endpoint.pk}/"


def deliveries_url(project, endpoint) -> str:
    return f"{hook_url(project, endpoint)}deliveries/"


def create(client, project, **body):
    return client.post(hooks_url(project), body, format="json")


# --- Creating and reading endpoints ---------------------------------------------------------------


def test_owner_creates_an_endpoint_and_gets_its_generated_secret_once(client, project, receiver):
    response = create(client, project, url=receiver.url())

    assert response.status_code == 201
    body = response.json()
    assert body["url"] == receiver.url()
    assert body["event_types"] == EventType.values
    assert body["is_active"] is True
    assert body["last_seq"] == client.get(f"/api/projects/{project.pk}/").json()["event_seq"]
    assert len(body["secret"]) >= 40
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]
    assert "secret" not in client.get(f"{hooks_url(project)}{body['id']}/").json()
    assert all("secret" not in listed for listed in client.get(hooks_url(project)).json()["results"])


def test_a_chosen_secret_is_kept_and_echoed_only_in_the_create_response(client, project, receiver):
    response = create(client, project, url=receiver.url(), secret="our-own-shared-secret")

    assert response.status_code == 201
    assert response.json()["secret"] == "our-own-shared-secret"
    assert "secret" not in client.get(f"{hooks_url(project)}{response.json()['id']}/").json()


def test_admin_manages_webhooks(client_for, project, add_member, receiver):
    admin = client_for(add_member(role=Role.ADMIN))

    created = create(admin, project, url=receiver.url(), event_types=["task.created"])
    assert created.status_code == 201
    endpoint_url = f"{hooks_url(project)}{created.json()['id']}/"
    assert admin.get(hooks_url(project)).status_code == 200
    assert admin.patch(endpoint_url, {"is_active": False}, format="json").json()["is_active"] is False
    assert admin.delete(endpoint_url).status_code == 204


def test_list_is_paginated_and_in_creation_order(client, project, make_endpoint, receiver):
    urls = [receiver.url(f"/{index}") for index in range(3)]
    for url in urls:
        make_endpoint(url=url)

    first = client.get(hooks_url(project), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert [hook["url"] for hook in first["results"] + second["results"]] == urls
    assert second["next"] is None


def test_patch_changes_url_event_types_and_activity(client, project, endpoint, receiver):
    response = client.patch(
        hook_url(project, endpoint),
        {"url": receiver.url("/new"), "event_types": ["task.deleted"], "is_active": False},
        format="json",
    )

    assert response.status_code == 200
    assert {name: response.json()[name] for name in ("url", "event_types", "is_active")} == {
        "url": receiver.url("/new"),
        "event_types": ["task.deleted"],
        "is_active": False,
    }
    assert "secret" not in response.json()


def test_a_rotated_secret_signs_the_next_deliveries(client, project, endpoint, receiver, run_jobs):
    response = client.patch(hook_url(project, endpoint), {"secret": "the-rotated-secret-value"}, format="json")
    assert response.status_code == 200
    assert "secret" not in response.json()
    make_task(project=project)
    run_jobs()

    [request] = receiver.requests
    assert request.headers["X-TaskFlow-Signature"] == signature_of("the-rotated-secret-value", request.body)


# --- Who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_may_not_see_or_manage_webhooks(client_for, project, add_member, endpoint, role):
    other = client_for(add_member(role=role))

    assert other.get(hooks_url(project)).status_code == 403
    assert other.get(hook_url(project, endpoint)).status_code == 403
    assert other.get(deliveries_url(project, endpoint)).status_code == 403
    assert create(other, project, url="http://example.com/hook").status_code == 403
    assert other.patch(hook_url(project, endpoint), {"is_active": False}, format="json").status_code == 403
    assert other.delete(hook_url(project, endpoint)).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.is_active is True


def test_outsiders_get_404_for_everything(client_for, project, endpoint):
    outsider = client_for(UserFactory())

    assert outsider.get(hooks_url(project)).status_code == 404
    assert outsider.get(hook_url(project, endpoint)).status_code == 404
    assert create(outsider, project, url="http://example.com/hook").status_code == 404
    assert outsider.delete(hook_url(project, endpoint)).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_an_endpoint_of_another_project_is_404(client, user, project, endpoint, receiver):
    other_project = task_services.project_create(actor=user, name="Other")

    assert client.get(hook_url(other_project, endpoint)).status_code == 404
    assert client.delete(hook_url(other_project, endpoint)).status_code == 404


def test_anonymous_requests_are_401(api_client, project, endpoint):
    assert api_client.get(hooks_url(project)).status_code == 401
    assert api_client.get(hook_url(project, endpoint)).status_code == 401


# --- Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "example.com/hook",
        "http:///no-host",
        "http://example.com:99999/",
        "http://exa mple.com/",
    ],
    ids=["ftp", "javascript", "no-scheme", "no-host", "bad-port", "space"],
)
def test_a_url_that_is_not_http_is_400_on_url(client, project, url):
    response = create(client, project, url=url)

    assert response.status_code == 400
    assert list(response.json()) == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_credentials_in_the_url_are_400(client, project):
    response = create(client, project, url="https://user:password@example.com/hook")

    assert response.status_code == 400
    assert "password" in response.json()["url"][0]


def test_a_too_long_url_is_400(client, project):
    response = create(client, project, url="http://example.com/" + "a" * 2000)

    assert response.status_code == 400
    assert "url" in response.json()


def test_a_missing_url_is_400(client, project):
    assert create(client, project, event_types=["task.created"]).json() == {"url": ["This field is required."]}


def test_an_unknown_event_type_is_400_on_event_types(client, project, receiver):
    response = create(client, project, url=receiver.url(), event_types=["task.created", "task.exploded"])

    assert response.status_code == 400
    assert list(response.json()) == ["event_types"]


def test_no_event_types_is_400(client, project, receiver):
    response = create(client, project, url=receiver.url(), event_types=[])

    assert response.status_code == 400
    assert "event_types" in response.json()


def test_an_event_type_given_twice_is_400(client, project, receiver):
    response = create(client, project, url=receiver.url(), event_types=["task.created", "task.created"])

    assert response.status_code == 400
    assert response.json() == {"event_types": ["Each event type may be listed only once."]}


@pytest.mark.parametrize("field", ["url", "secret"])
def test_a_number_for_url_or_secret_is_400(client, project, receiver, field):
    body = {"url": receiver.url(), "secret": "our-own-shared-secret", field: 12345678901234567890}

    response = create(client, project, **body)

    assert response.status_code == 400
    assert response.json() == {field: ["Not a valid string."]}
    assert not WebhookEndpoint.objects.exists()


def test_a_short_secret_is_400(client, project, receiver):
    response = create(client, project, url=receiver.url(), secret="too-short")

    assert response.status_code == 400
    assert list(response.json()) == ["secret"]


def test_a_bad_url_in_a_patch_is_400_and_changes_nothing(client, project, endpoint):
    response = client.patch(hook_url(project, endpoint), {"url": "gopher://example.com/"}, format="json")

    assert response.status_code == 400
    assert "url" in response.json()
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1")


def test_a_project_has_at_most_the_limit_of_endpoints(client, project, make_endpoint, receiver):
    for _ in range(ENDPOINTS_PER_PROJECT_MAX):
        make_endpoint()

    response = create(client, project, url=receiver.url())

    assert response.status_code == 400
    assert str(ENDPOINTS_PER_PROJECT_MAX) in response.json()["detail"]
    assert WebhookEndpoint.objects.filter(project=project).count() == ENDPOINTS_PER_PROJECT_MAX


# --- The delivery log -----------------------------------------------------------------------------


def test_the_delivery_log_lists_newest_first_with_pages(client, project, endpoint, run_jobs):
    for index in range(3):
        make_task(project=project, title=f"Task {index}")
    run_jobs()

    first = client.get(deliveries_url(project, endpoint), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    listed = first["results"] + second["results"]
    assert [delivery["seq"] for delivery in listed] == sorted((d["seq"] for d in listed), reverse=True)
    assert len(listed) == 3
    assert {delivery["status"] for delivery in listed} == {"succeeded"}
    assert "payload" not in listed[0]


def test_a_delivery_shows_what_was_sent_and_what_came_back(client, project, endpoint, receiver, run_jobs):
    receiver.answer(500)
    make_task(project=project)
    run_jobs()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    body = client.get(f"{deliveries_url(project, endpoint)}{delivery.pk}/").json()

    assert body["payload"] == receiver.bodies()[0]
    assert (body["status"], body["attempts"], body["response_status"]) == ("pending", 1, 500)
    assert body["response_body"] == "answer 500"
    assert "500" in body["error"]
    assert body["next_attempt_at"] is not None
    assert body["event_type"] == "task.created"


def test_an_unknown_or_malformed_delivery_id_is_404(client, project, endpoint):
    assert client.get(f"{deliveries_url(project, endpoint)}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get(f"{deliveries_url(project, endpoint)}not-a-uuid/").status_code == 404


def test_a_delivery_of_another_endpoint_is_404(client, project, make_endpoint, receiver, run_jobs):
    first, second = make_endpoint(), make_endpoint(url=receiver.url("/second"))
    make_task(project=project)
    run_jobs()
    delivery_of_second = WebhookDelivery.objects.get(endpoint=second)

    assert client.get(f"{deliveries_url(project, first)}{delivery_of_second.pk}/").status_code == 404


def test_redeliver_is_202_with_the_new_delivery_which_is_then_sent(client, project, endpoint, receiver, run_jobs):
    make_task(project=project)
    run_jobs()
    original = WebhookDelivery.objects.get(endpoint=endpoint)

    response = client.post(f"{deliveries_url(project, endpoint)}{original.pk}/redeliver/")
    run_jobs()

    assert response.status_code == 202
    body = response.json()
    assert body["id"] != str(original.pk)
    assert (body["status"], body["redelivery_of"], body["seq"]) == ("pending", str(original.pk), original.seq)
    assert body["payload"]["delivery"] == body["id"]
    assert receiver.requests[-1].headers["X-TaskFlow-Delivery"] == body["id"]
    assert WebhookDelivery.objects.get(pk=body["id"]).status == DeliveryStatus.SUCCEEDED


def test_redelivering_to_a_switched_off_endpoint_is_400(client, project, endpoint, run_jobs):
    make_task(project=project)
    run_jobs()
    original = WebhookDelivery.objects.get(endpoint=endpoint)
    client.patch(hook_url(project, endpoint), {"is_active": False}, format="json")

    response = client.post(f"{deliveries_url(project, endpoint)}{original.pk}/redeliver/")

    assert response.status_code == 400
    assert WebhookDelivery.objects.count() == 1


def test_members_may_not_redeliver(client_for, project, add_member, endpoint, run_jobs):
    make_task(project=project)
    run_jobs()
    original = WebhookDelivery.objects.get(endpoint=endpoint)
    member = client_for(add_member(role=Role.MEMBER))

    assert member.post(f"{deliveries_url(project, endpoint)}{original.pk}/redeliver/").status_code == 403
    assert WebhookDelivery.objects.count() == 1
