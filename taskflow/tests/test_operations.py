"""Health checks, API docs and the browsable API, as operators and developers reach them."""

import json
import re

import pytest
import yaml
from channels.layers import channel_layers
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.tests.factories import PASSWORD, UserFactory

# A local port nothing listens on: connections are refused at once.
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def browser() -> Client:
    """A plain Django client, as a browser would use the site (session cookies, HTML)."""
    return Client()


@pytest.fixture
def redis_cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CLOSED_REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True},
        }
    }


@pytest.fixture
def channel_layer_down(settings):
    channel_layers.backends.clear()
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [CLOSED_REDIS_URL]}}
    }
    yield
    channel_layers.backends.clear()


# --- Liveness and readiness ---------------------------------------------------------------------


def test_healthz_is_200_at_exactly_that_path(browser):
    response = browser.get("/healthz")
    assert response.status_code == 200
    assert "Location" not in response
    assert response.json() == {"status": "ok"}


def test_healthz_answers_without_touching_the_database(browser):
    # No `db` fixture: pytest-django fails any database query made here.
    assert browser.get("/healthz").status_code == 200


def test_healthz_is_not_cached(browser):
    assert "no-cache" in browser.get("/healthz")["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_200_with_every_check_ok(browser):
    response = browser.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "channel_layer": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_redis_is_unreachable(browser, redis_cache_down):
    response = browser.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable", "channel_layer": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_the_channel_layer_when_redis_is_unreachable(browser, channel_layer_down):
    response = browser.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "ok", "channel_layer": "unavailable"},
    }


@pytest.mark.django_db
def test_readyz_names_both_when_cache_and_channel_layer_are_down(browser, redis_cache_down, channel_layer_down):
    response = browser.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable", "channel_layer": "unavailable"}


@pytest.mark.django_db
def test_readyz_needs_no_login(api_client):
    assert api_client.get("/readyz").status_code == 200


# --- Schema and docs ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_is_openapi_3_yaml_by_default(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")


@pytest.mark.django_db
def test_schema_is_available_as_json(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


@pytest.mark.django_db
def test_schema_lists_every_documented_endpoint(api_client):
    paths = yaml.safe_load(api_client.get("/api/schema/").content)["paths"]
    documented = {
        "/api/auth/register/",
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/token/verify/",
        "/api/auth/logout/",
        "/api/auth/me/",
        "/api/auth/password/",
        "/api/projects/",
        "/api/projects/{id}/",
        "/api/projects/{project_id}/members/",
        "/api/projects/{project_id}/members/{user_id}/",
        "/api/projects/{project_id}/events/",
        "/api/tasks/",
        "/api/tasks/{id}/",
    }
    assert documented <= set(paths)


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_is_html(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_uses_no_cdn(api_client, path):
    html = api_client.get(path).content.decode()
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_loads_nothing_from_another_host(api_client, path):
    # Served with no internet access: every script, style sheet and font must come from this site.
    html = api_client.get(path).content.decode()
    external = [url for url in _referenced_urls(html) if not url.startswith("/")]
    assert external == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_scripts_are_bundled_static_files(api_client, settings, path):
    html = api_client.get(path).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts
    for url in scripts:
        assert url.startswith(settings.STATIC_URL)
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not a bundled static file"


@pytest.mark.parametrize("short, target", [("/docs", "/api/docs/"), ("/redoc", "/api/redoc/")])
def test_short_docs_path_redirects_to_the_docs(browser, short, target):
    response = browser.get(short)
    assert response.status_code in (301, 302)
    assert response["Location"] == target


# --- Browsable API ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_browsable_api_renders_project_list_for_session_user(browser, project, user):
    browser.force_login(user)
    response = browser.get("/api/projects/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Launch" in response.content.decode()


@pytest.mark.django_db
def test_browsable_api_renders_task_list_with_filters_for_session_user(browser, project, user):
    browser.force_login(user)
    response = browser.get("/api/tasks/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_browsable_api_renders_events_feed_for_session_user(browser, project, user):
    browser.force_login(user)
    response = browser.get(f"/api/projects/{project.pk}/events/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "member.added" in response.content.decode()


@pytest.mark.django_db
def test_browsable_api_login_page_renders(browser):
    response = browser.get("/api-auth/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


@pytest.mark.django_db
def test_browsable_api_login_gives_a_session_that_reads_the_api(browser, project, user):
    login = browser.post("/api-auth/login/", {"username": user.username, "password": PASSWORD, "next": "/api/"})
    assert login.status_code == 302
    response = browser.get("/api/projects/", HTTP_ACCEPT="application/json")
    assert [item["name"] for item in response.json()["results"]] == ["Launch"]


@pytest.mark.django_db
def test_session_user_cannot_write_without_csrf_token(project, user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/api/projects/", {"name": "Sneaky"}, content_type="application/json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_session_of_another_user_does_not_see_the_project(browser, project):
    browser.force_login(UserFactory())
    response = browser.get(f"/api/projects/{project.pk}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
