"""URL routes: the API under /api/, its docs, the board's pages, the admin and the health checks."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from realtime.api import AsyncApiView, ProjectActivityView, ProjectEventsView, TaskActivityView
from taskflow.api_root import ApiRootView
from taskflow.health import healthz, readyz
from tasks.api import ID_PATTERN, MemberViewSet, ProjectViewSet, TaskViewSet, UserSearchView

# The API root is a view of its own (taskflow.api_root): it lists the nested routes too.
router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("tasks", TaskViewSet, basename="task")

# Suffixes as the router gives its own routes: the browsable API names them "Member List", ...
members = MemberViewSet.as_view({"get": "list", "post": "create"}, suffix="List")
member = MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"}, suffix="Instance")


@csrf_exempt
def api_not_found(request, unmatched=""):
    """Any other path under /api/: a JSON 404 in DRF's shape, in debug mode too, for any method.

    A plain Django view, not a DRF one: the browsable API's breadcrumbs name every DRF view that a
    prefix of the path resolves to, and `/api/projects/1` (no slash) would read "Api Not Found".
    """
    return JsonResponse({"detail": "Not found."}, status=404)


# What Django answers for a request it refused itself, and for an exception no view handled:
# JSON under /api/, and a database that is away is a 503 wherever it fails (taskflow.errors).
handler400 = "taskflow.errors.bad_request"
handler500 = "taskflow.errors.server_error"

urlpatterns = [
    # The hottest routes first (Django tries the patterns in order): the router's are anchored and
    # match no path the others match.
    path("api/", include(router.urls)),
    path("api/", ApiRootView.as_view(), name="api-root"),
    path("api/auth/", include("accounts.urls")),
    re_path(rf"^api/projects/(?P<project_id>{ID_PATTERN})/members/$", members, name="project-members"),
    re_path(
        rf"^api/projects/(?P<project_id>{ID_PATTERN})/members/(?P<user_id>{ID_PATTERN})/$",
        member,
        name="project-member",
    ),
    re_path(
        rf"^api/projects/(?P<project_id>{ID_PATTERN})/events/$", ProjectEventsView.as_view(), name="project-events"
    ),
    re_path(
        rf"^api/projects/(?P<project_id>{ID_PATTERN})/activity/$",
        ProjectActivityView.as_view(),
        name="project-activity",
    ),
    re_path(rf"^api/tasks/(?P<task_id>{ID_PATTERN})/activity/$", TaskActivityView.as_view(), name="task-activity"),
    path("api/", include("tasks.urls")),
    path("api/", include("comments.urls")),
    path("api/", include("attachments.urls")),
    path("api/", include("batch.urls")),
    path("api/", include("webhooks.urls")),
    path("api/", include("notifications.urls")),
    path("api/users/", UserSearchView.as_view(), name="users"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/asyncapi/", AsyncApiView.as_view(), name="asyncapi"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="taskflow/redoc.html"), name="redoc"
    ),
    # Any character, newlines included (`.` stops at one): every path under /api/ is answered in JSON.
    re_path(r"^api/(?P<unmatched>[\s\S]*)$", api_not_found),
    path("api-auth/", include("rest_framework.urls")),
    path("docs", RedirectView.as_view(pattern_name="swagger-ui")),
    path("docs/", RedirectView.as_view(pattern_name="swagger-ui")),
    path("redoc", RedirectView.as_view(pattern_name="redoc")),
    path("redoc/", RedirectView.as_view(pattern_name="redoc")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    # The page for people: sign in at /login/, then /, the projects, and each project's board.
    path("", include("board.urls")),
]
