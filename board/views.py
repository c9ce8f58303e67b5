"""The board's pages: Django's session sign-in and sign-out, the caller's projects, a project's board.

The pages only read, to render (the same selectors as the API, scoped to the caller); everything
the board changes goes through the public API, from the page's scripts, with an access token the
page trades its session for (`POST /api/auth/session/token/`, accounts.api.SessionTokenView).
Every page is sent with a Content-Security-Policy that lets it run only TaskFlow's own scripts and
styles and connect only to its own origin (and WebSocket), so text that someone typed into a task
can never become code on another member's page, even if a script forgot to treat it as text.
"""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.csp import CSP, build_policy
from django.views.decorators.cache import never_cache

from accounts.throttles import AuthEndpointThrottle
from comments.models import COMMENT_BODY_MAX
from taskflow.errors import NotFound
from tasks.models import DESCRIPTION_MAX, TASK_TITLE_MAX, Priority, Status
from tasks.selectors import project_get_for_user, project_list_for_user


def content_security_policy(request) -> str:
    """The policy of the board's pages: their own scripts, styles and images, the API on their own
    origin, and the WebSocket on the same host (named in full: `'self'` covers `ws:` only in
    browsers that implement CSP Level 3)."""
    websocket = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    return build_policy(
        {
            "default-src": [CSP.NONE],
            "script-src": [CSP.SELF],
            "style-src": [CSP.SELF],
            "img-src": [CSP.SELF, "data:"],
            "connect-src": [CSP.SELF, websocket],
            "form-action": [CSP.SELF],
            "base-uri": [CSP.NONE],
            "frame-ancestors": [CSP.NONE],
        }
    )


def _with_policy(request, response):
    response[CSP.HEADER_ENFORCE] = content_security_policy(request)
    return response


class SignInView(auth_views.LoginView):
    """Django's LoginView with the board's template. Sign-in attempts are limited per client IP
    like the API's token endpoint (`TASKFLOW_AUTH_RATE`): the form checks a password just as that
    endpoint does, so it must not be the way around its limit."""

    template_name = "board/login.html"
    redirect_authenticated_user = True
    throttle_scope = "sign_in"

    def post(self, request, *args, **kwargs):
        throttle = AuthEndpointThrottle()
        if not throttle.allow_request(request, self):
            seconds = max(1, round(throttle.wait() or 1))
            context = self.get_context_data(form=self.get_form(), too_many_attempts=seconds)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(seconds)
            return response
        return super().post(request, *args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        return _with_policy(request, super().dispatch(request, *args, **kwargs))


class SignOutView(auth_views.LogoutView):
    """Django's LogoutView (POST only, CSRF checked): the session ends, and with it the page's way
    to new access tokens; the one it holds runs out within `JWT_ACCESS_MINUTES`."""

    def dispatch(self, request, *args, **kwargs):
        return _with_policy(request, super().dispatch(request, *args, **kwargs))


# The pages are a signed-in person's own, and carry the CSRF token of their session: never cached.
@never_cache
@login_required
def projects(request):
    """The caller's projects, by name, each leading to its board."""
    rows = project_list_for_user(user=request.user).order_by("name", "id")
    return _with_policy(request, render(request, "board/projects.html", {"projects": rows}))


@never_cache
@login_required
def board(request, project_id: str):
    """A project's board. The page's scripts (static/board/board.js) load the project over the API
    and follow it on the WebSocket; this page gives them the project, the caller and the CSRF token
    to ask for their access token with."""
    try:
        project = project_get_for_user(user=request.user, project_id=int(project_id))
    except NotFound:
        raise Http404() from None
    context = {
        "project": project,
        "session_token_url": reverse("auth-session-token"),
        "statuses": Status.choices,
        "priorities": [name for _, name in Priority.choices],
        "title_max": TASK_TITLE_MAX,
        "description_max": DESCRIPTION_MAX,
        "comment_max": COMMENT_BODY_MAX,
    }
    return _with_policy(request, render(request, "board/board.html", context))
