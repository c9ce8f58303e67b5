"""Every API path reaches its own view, whatever order the routes are tried in."""

import pytest
from django.urls import resolve


@pytest.mark.parametrize(
    ("path", "view_name"),
    [
        ("/api/", "api-root"),
        ("/api/tasks/", "task-list"),
        ("/api/tasks/7/", "task-detail"),
        ("/api/projects/", "project-list"),
        ("/api/projects/7/", "project-detail"),
        ("/api/projects/7/members/", "project-members"),
        ("/api/projects/7/members/3/", "project-member"),
        ("/api/projects/7/events/", "project-events"),
        ("/api/projects/7/webhooks/", "project-webhooks"),
        ("/api/auth/me/", "auth-me"),
        ("/api/schema/", "schema"),
        ("/api/asyncapi/", "asyncapi"),
        ("/api/docs/", "swagger-ui"),
    ],
)
def test_each_api_path_resolves_to_its_view(path, view_name):
    assert resolve(path).url_name == view_name


@pytest.mark.parametrize("path", ["/api/tasks/7/extra/", "/api/projects/7/members/3/x/", "/api/nothing/"])
def test_other_api_paths_reach_the_json_404(path):
    assert resolve(path).kwargs == {"unmatched": path.removeprefix("/api/")}


# A catch-all of `.*` stopped at a newline, so such a path got Django's HTML 404 page (found by
# schemathesis).
@pytest.mark.parametrize("path", ["/api/projects/1%0A/members/", "/api/%0A"])
def test_a_path_with_a_newline_under_api_is_the_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
