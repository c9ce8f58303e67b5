"""The board's pages as Django serves them: sign-in and sign-out, the projects, a project's board,
and the Content-Security-Policy they are sent with. What the page's scripts do is tested in a real
browser (test_board_in_browser.py)."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.factories import PASSWORD, UserFactory
from tasks import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def sign_in_form(browser: Client, username: str, password: str, **extra):
    browser.get("/login/")
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    return browser.post("/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token, **extra})


def test_a_signed_out_visitor_is_sent_to_sign_in(browser):
    response = browser.get("/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/")
    assert browser.get("/projects/1/")["Location"] == "/login/?next=/projects/1/"


def test_signing_in_leads_to_the_projects(browser, user):
    response = sign_in_form(browser, user.username, PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/")
    assert browser.get("/").status_code == 200


def test_signing_in_goes_back_where_the_visitor_was_going(browser, user, project):
    response = sign_in_form(browser, user.username, PASSWORD, next=f"/projects/{project.pk}/")
    assert response["Location"] == f"/projects/{project.pk}/"


def test_signing_in_never_leads_to_another_site(browser, user):
    assert sign_in_form(browser, user.username, PASSWORD, next="https://example.com/")["Location"] == "/"


def test_a_wrong_password_shows_an_error(browser, user):
    response = sign_in_form(browser, user.username, "not-the-password")
    assert response.status_code == 200
    assert b"The username or password is not right" in response.content
    assert browser.get("/").status_code == 302


def test_the_sign_in_form_needs_its_csrf_token(browser, user):
    assert browser.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 403


def test_sign_in_attempts_are_limited_per_address(browser, user, settings):
    settings.TASKFLOW_AUTH_RATE = "2/min"
    for _ in range(2):
        assert sign_in_form(browser, user.username, "wrong").status_code == 200
    response = sign_in_form(browser, user.username, PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many sign-in attempts" in response.content
    assert browser.get("/").status_code == 302


def test_the_projects_page_lists_the_callers_projects_only(browser, user, project):
    services.project_create(actor=UserFactory(), name="Somebody else's")
    sign_in_form(browser, user.username, PASSWORD)
    html = browser.get("/").content.decode()
    assert f'href="/projects/{project.pk}/"' in html
    assert "Launch" in html
    assert "Somebody else" not in html


def test_the_board_page_gives_its_scripts_what_they_start_from(browser, user, project):
    sign_in_form(browser, user.username, PASSWORD)
    response = browser.get(f"/projects/{project.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-project="{project.pk}"' in html
    assert f'data-user="{user.pk}"' in html
    assert 'data-session-token-url="/api/auth/session/token/"' in html
    assert 'data-csrf-token="' in html
    assert '<script type="module" src="/static/board/board.js">' in html
    for label in ("To do", "In progress", "Done", "Cancelled"):
        assert f'<span class="label">{label}</span>' in html


def test_another_projects_board_is_404(browser, user):
    other = services.project_create(actor=UserFactory(), name="Private")
    sign_in_form(browser, user.username, PASSWORD)
    assert browser.get(f"/projects/{other.pk}/").status_code == 404
    assert browser.get("/projects/999999999/").status_code == 404


def test_project_names_are_escaped(browser, user):
    project = services.project_create(actor=user, name="<script>alert(1)</script>")
    sign_in_form(browser, user.username, PASSWORD)
    for path in ("/", f"/projects/{project.pk}/"):
        html = browser.get(path).content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("path", ["/login/", "/", "/projects/{project}/"])
def test_every_page_allows_only_taskflows_own_scripts_and_connections(browser, user, project, path):
    sign_in_form(browser, user.username, PASSWORD)
    if path == "/login/":
        browser.logout()
    policy = dict(
        directive.split(" ", 1)
        for directive in browser.get(path.format(project=project.pk))["Content-Security-Policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' ws://testserver"
    assert policy["frame-ancestors"] == "'none'"


def test_signing_out_needs_a_post_and_ends_the_session(browser, user):
    sign_in_form(browser, user.username, PASSWORD)
    assert browser.get("/logout/").status_code == 405
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = browser.post("/logout/", {"csrfmiddlewaretoken": token})
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert browser.get("/").status_code == 302
