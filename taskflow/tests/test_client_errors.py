"""A client's mistakes that Django refuses itself: a 400 in DRF's shape under /api/, logged as a
warning without a traceback (they say nothing about the server's health)."""

import io
import json

import pytest
from django.conf import settings as django_settings


def entries(buffer: io.StringIO, logger: str) -> list[dict]:
    return [entry for line in buffer.getvalue().splitlines() if (entry := json.loads(line))["logger"] == logger]


@pytest.mark.django_db
def test_a_host_not_allowed_gets_a_json_400_under_the_api(api_client):
    response = api_client.get("/api/projects/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Invalid Host header."}


@pytest.mark.django_db
def test_a_host_not_allowed_gets_a_json_400_in_debug_mode_too(api_client, settings):
    settings.DEBUG = True

    response = api_client.post("/api/auth/token/", {}, format="json", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid Host header."}


@pytest.mark.django_db
def test_a_host_not_allowed_outside_the_api_gets_djangos_400_page(api_client):
    response = api_client.get("/admin/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_host_not_allowed_is_logged_as_a_warning_without_a_traceback(api_client, production_log):
    api_client.get("/api/tasks/", HTTP_HOST="evil.example")

    [entry] = entries(production_log, "django.security.DisallowedHost")
    assert entry["level"] == "WARNING"
    assert entry["message"].startswith("Invalid HTTP_HOST header: 'evil.example'.")
    assert "exception" not in entry


@pytest.mark.django_db
def test_a_form_with_too_many_fields_is_logged_as_a_warning_without_a_traceback(api_client, production_log):
    fields = "&".join(f"field{index}=x" for index in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = api_client.post("/admin/login/", fields, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    [entry] = entries(production_log, "django.security.TooManyFieldsSent")
    assert entry["level"] == "WARNING"
    assert "exception" not in entry
