"""Request authentication as an API client notices it, with tokens verified once per process."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import UserFactory
from realtime.models import Event
from tasks.models import Task
from tasks.services import member_add, project_create
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def client_with(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_accepted_before_is_refused_once_it_expires(user):
    token = AccessToken.for_user(user)
    # `exp` is in whole seconds: two seconds of lifetime leave at least one for the first request.
    token.set_exp(lifetime=timedelta(seconds=2))
    client = client_with(token)
    assert client.get("/api/auth/me/").status_code == 200
    time.sleep(max(0.0, token["exp"] - time.time()) + 0.1)
    assert client.get("/api/auth/me/").status_code == 401


def test_a_token_accepted_before_is_refused_after_a_password_change(user):
    client = client_with(AccessToken.for_user(user))
    assert client.get("/api/auth/me/").status_code == 200
    user.set_password("a-new-long-passphrase-2")
    user.save()
    assert client.get("/api/auth/me/").status_code == 401


def test_a_token_accepted_before_is_refused_once_its_user_is_deactivated(user):
    client = client_with(AccessToken.for_user(user))
    assert client.get("/api/auth/me/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/auth/me/").status_code == 401


def test_a_tampered_copy_of_an_accepted_token_is_refused(user):
    token = str(AccessToken.for_user(user))
    assert client_with(token).get("/api/auth/me/").status_code == 200
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert client_with(tampered).get("/api/auth/me/").status_code == 401


# --- Requests whose own query checks the user (tasks) refuse exactly as the others do ----------

HOT_REQUESTS = {
    "task detail": ("get", "/api/tasks/{task}/", None),
    "task list of a project": ("get", "/api/tasks/?project={project}", None),
    "task list": ("get", "/api/tasks/", None),
    "task patch": ("patch", "/api/tasks/{task}/", {"title": "Changed by a refused user"}),
    "task put": ("put", "/api/tasks/{task}/", {"title": "Changed by a refused user"}),
    "task delete": ("delete", "/api/tasks/{task}/", None),
    "a task of another project": ("get", "/api/tasks/{foreign_task}/", None),
    "project detail": ("get", "/api/projects/{project}/", None),
}


def _deactivate(user):
    user.is_active = False
    user.save()


def _change_password(user):
    user.set_password("a-new-long-passphrase-2")
    user.save()


REFUSALS = {"deactivated": _deactivate, "password changed": _change_password, "deleted": lambda user: user.delete()}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
@pytest.mark.parametrize("request_name", sorted(HOT_REQUESTS))
def test_a_token_of_a_user_who_may_no_longer_sign_in_is_refused_and_changes_nothing(refusal, request_name):
    owner, user = UserFactory(), UserFactory()
    project = project_create(actor=owner, name="Ours")
    member_add(project=project, actor=owner, user=user.pk, operator=True)
    task = make_task(project=project, title="Before")
    foreign_task = make_task(project=project_create(actor=owner, name="Theirs"))
    client = client_with(AccessToken.for_user(user))
    assert client.get(f"/api/tasks/{task.pk}/").status_code == 200  # the token works
    REFUSALS[refusal](user)
    events = Event.objects.count()

    method, path, body = HOT_REQUESTS[request_name]
    path = path.format(task=task.pk, project=project.pk, foreign_task=foreign_task.pk)
    response = getattr(client, method)(path, body, format="json")

    assert response.status_code == 401, response.content
    assert Event.objects.count() == events
    assert Task.objects.get(pk=task.pk).title == "Before"
