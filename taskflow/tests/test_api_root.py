"""Where a newcomer starts: `/` (the board's sign-in), the public API root and the browsable API's pages."""

import re

import pytest
from django.test import Client
from django.urls import resolve

from taskflow.urls import api_not_found
from tasks.filters import TaskFilter
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def browsable(client, path: str) -> str:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def breadcrumbs(html: str) -> list[str]:
    (trail,) = re.findall(r'<ul class="breadcrumb">(.*?)</ul>', html, re.S)
    return re.findall(r">\s*([^<>]+?)\s*</a>", trail)


@pytest.fixture
def session_client(user):
    """The browsable API as a person sees it: signed in with Django's session login."""
    client = Client()
    client.force_login(user)
    return client


def test_root_path_leads_a_signed_out_visitor_to_sign_in(api_client):
    response = api_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_root_path_leads_to_sign_in_in_debug_mode_too(api_client, settings):
    settings.DEBUG = True
    response = api_client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 302
    assert b"urlpatterns" not in response.content


def test_the_api_docs_stay_where_they_were(api_client):
    assert api_client.get("/docs/")["Location"] == "/api/docs/"
    assert api_client.get("/api/docs/").status_code == 200


def test_api_root_answers_anonymous_callers(api_client):
    response = api_client.get("/api/")
    assert response.status_code == 200
    assert set(response.json()) == {"auth", "projects", "tasks", "people", "docs", "realtime"}


def test_api_root_answers_a_caller_whose_token_is_no_good(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get("/api/").status_code == 200


def test_api_root_lists_every_resource_a_client_uses(api_client):
    links = api_client.get("/api/").json()
    assert links["auth"] == {
        name: f"http://testserver/api/auth/{path}"
        for name, path in {
            "register": "register/",
            "token": "token/",
            "token_refresh": "token/refresh/",
            "token_verify": "token/verify/",
            "logout": "logout/",
            "me": "me/",
            "password": "password/",
            "password_reset": "password/reset/",
            "password_reset_confirm": "password/reset/confirm/",
            "tokens": "tokens/",
            "token_revoke": "tokens/{token_id}/",
            "session_token": "session/token/",
        }.items()
    }
    assert links["projects"]["members"] == "http://testserver/api/projects/{project_id}/members/"
    assert links["projects"]["events"] == "http://testserver/api/projects/{project_id}/events/"
    assert links["projects"]["comment_counts"] == "http://testserver/api/projects/{project_id}/comment-counts/"
    assert links["projects"]["webhooks"] == "http://testserver/api/projects/{project_id}/webhooks/"
    assert links["projects"]["invitations"] == "http://testserver/api/projects/{project_id}/invitations/"
    assert links["projects"]["invitation_accept"] == "http://testserver/api/invitations/accept/"
    assert links["tasks"] == {
        name: f"http://testserver/api/{path}"
        for name, path in {
            "tasks": "tasks/",
            "task": "tasks/{id}/",
            "activity": "tasks/{task_id}/activity/",
            "comments": "tasks/{task_id}/comments/",
            "comment": "comments/{comment_id}/",
            "attachments": "tasks/{task_id}/attachments/",
            "attachment": "attachments/{attachment_id}/",
            "attachment_download": "attachments/{attachment_id}/download/",
            "batch": "batch/",
        }.items()
    }
    assert links["people"] == {
        name: f"http://testserver/api/{path}"
        for name, path in {
            "users": "users/",
            "notifications": "notifications/",
            "notification_read": "notifications/{notification_id}/read/",
            "notifications_read_all": "notifications/read-all/",
        }.items()
    }
    assert links["docs"] == {
        name: f"http://testserver/api/{path}"
        for name, path in {
            "schema": "schema/",
            "asyncapi": "asyncapi/",
            "swagger_ui": "docs/",
            "redoc": "redoc/",
        }.items()
    }
    assert links["realtime"] == {"websocket": "ws://testserver/ws/"}


def test_every_link_of_the_api_root_reaches_a_view_of_its_own(api_client):
    links = api_client.get("/api/").json()
    urls = [url for group, routes in links.items() if group != "realtime" for url in routes.values()]
    for url in urls:
        path = re.sub(r"\{\w+\}", "1", url.removeprefix("http://testserver"))
        assert resolve(path).func is not api_not_found, url


def test_browsable_api_breadcrumbs_name_every_level(session_client, user, project):
    html = browsable(session_client, f"/api/projects/{project.pk}/members/")
    assert breadcrumbs(html) == ["TaskFlow API", "Project List", "Project Instance", "Member List"]


def test_browsable_api_breadcrumbs_of_a_task(session_client, project):
    task = make_task(project=project)
    assert breadcrumbs(browsable(session_client, f"/api/tasks/{task.pk}/")) == [
        "TaskFlow API",
        "Task List",
        "Task Instance",
    ]


def test_every_task_filter_has_a_label_and_help_text():
    for name, task_filter in TaskFilter.base_filters.items():
        assert task_filter.label, name
        assert task_filter.extra.get("help_text"), name


def test_browsable_task_filter_form_shows_real_names(session_client, project):
    # The filter form is rendered into the page's "Filters" dialog.
    html = browsable(session_client, f"/api/tasks/?project={project.pk}")
    assert "[invalid name]" not in html
    for label in ("Status", "Priority", "Assignee", "Due before", "Due after", "Updated since", "Search"):
        assert f">{label}<" in html or f">{label}:<" in html, label


def test_every_templated_link_of_the_api_root_is_a_path_of_the_schema(api_client):
    links = api_client.get("/api/").json()
    schema_paths = set(api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"])
    templates = [url for routes in links.values() for url in routes.values() if "{" in url]
    assert templates
    for url in templates:
        assert url.removeprefix("http://testserver") in schema_paths, url
