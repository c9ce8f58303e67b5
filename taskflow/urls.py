"""URL routes: the API under /api/, its docs, the admin and the health checks."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.routers import DefaultRouter

from realtime.api import ProjectEventsView
from taskflow.health import healthz, readyz
from tasks.api import ID_PATTERN, MemberViewSet, ProjectViewSet, TaskViewSet

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("tasks", TaskViewSet, basename="task")

members = MemberViewSet.as_view({"get": "list", "post": "create"})
member = MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request, unmatched=""):
    """Any other path under /api/: a JSON 404, in debug mode too."""
    raise NotFound()


urlpatterns = [
    # The hottest routes first (Django tries the patterns in order): the router's are anchored and
    # match no path the others match.
    path("api/", include(router.urls)),
    path("api/auth/", include("accounts.urls")),
    re_path(rf"^api/projects/(?P<project_pk>{ID_PATTERN})/members/$", members, name="project-members"),
    re_path(
        rf"^api/projects/(?P<project_pk>{ID_PATTERN})/members/(?P<user_id>{ID_PATTERN})/$",
        member,
        name="project-member",
    ),
    re_path(
        rf"^api/projects/(?P<project_pk>{ID_PATTERN})/events/$", ProjectEventsView.as_view(), name="project-events"
    ),
    path("api/", include("webhooks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="taskflow/redoc.html"), name="redoc"
    ),
    re_path(r"^api/(?P<unmatched>.*)$", api_not_found),
    path("api-auth/", include("rest_framework.urls")),
    path("docs", RedirectView.as_view(pattern_name="swagger-ui")),
    path("docs/", RedirectView.as_view(pattern_name="swagger-ui")),
    path("redoc", RedirectView.as_view(pattern_name="redoc")),
    path("redoc/", RedirectView.as_view(pattern_name="redoc")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
