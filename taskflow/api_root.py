"""The API root, `GET /api/`: a public map of every resource a client uses, to start from.

Paths with ids are given as templates (`{project_id}`), the way the OpenAPI schema names them, so
a client (or a person in the browsable API) sees the nested routes too, not only the top lists.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Name -> (URL name, template path after the reversed one, for routes that take ids).
# Templates are written after their list route: `projects` + `{project_id}/members/`.
ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    "auth": {
        "register": ("auth-register", ""),
        "token": ("auth-token", ""),
        "token_refresh": ("auth-token-refresh", ""),
        "token_verify": ("auth-token-verify", ""),
        "logout": ("auth-logout", ""),
        "me": ("auth-me", ""),
        "password": ("auth-password", ""),
        "password_reset": ("auth-password-reset", ""),
        "password_reset_confirm": ("auth-password-reset-confirm", ""),
        "tokens": ("auth-tokens", ""),
        "token_revoke": ("auth-tokens", "{token_id}/"),
        "session_token": ("auth-session-token", ""),
    },
    "projects": {
        "projects": ("project-list", ""),
        "project": ("project-list", "{id}/"),
        "members": ("project-list", "{project_id}/members/"),
        "member": ("project-list", "{project_id}/members/{user_id}/"),
        "events": ("project-list", "{project_id}/events/"),
        "activity": ("project-list", "{project_id}/activity/"),
        "comment_counts": ("project-list", "{project_id}/comment-counts/"),
        "invitations": ("project-list", "{project_id}/invitations/"),
        "invitation": ("project-list", "{project_id}/invitations/{invitation_id}/"),
        "invitation_accept": ("invitation-accept", ""),
        "webhooks": ("project-list", "{project_id}/webhooks/"),
        "webhook": ("project-list", "{project_id}/webhooks/{webhook_id}/"),
        "webhook_deliveries": ("project-list", "{project_id}/webhooks/{webhook_id}/deliveries/"),
    },
    "tasks": {
        "tasks": ("task-list", ""),
        "task": ("task-list", "{id}/"),
        "activity": ("task-list", "{task_id}/activity/"),
        "comments": ("task-list", "{task_id}/comments/"),
        "comment": ("api-root", "comments/{comment_id}/"),
        "attachments": ("task-list", "{task_id}/attachments/"),
        "attachment": ("api-root", "attachments/{attachment_id}/"),
        "attachment_download": ("api-root", "attachments/{attachment_id}/download/"),
        "batch": ("batch", ""),
    },
    "people": {
        "users": ("users", ""),
        "notifications": ("notifications", ""),
        "notification_read": ("notifications", "{notification_id}/read/"),
        "notifications_read_all": ("notifications-read-all", ""),
    },
    "docs": {
        "schema": ("schema", ""),
        "asyncapi": ("asyncapi", ""),
        "swagger_ui": ("swagger-ui", ""),
        "redoc": ("redoc", ""),
    },
}


def api_links(request) -> dict:
    """Every route of ROUTES as an absolute URL (or URL template) for this request's host."""
    links = {
        group: {name: reverse(url_name, request=request) + template for name, (url_name, template) in routes.items()}
        for group, routes in ROUTES.items()
    }
    # The WebSocket stream is served on the same host, by the same processes.
    scheme = "wss" if request.is_secure() else "ws"
    links["realtime"] = {"websocket": f"{scheme}://{request.get_host()}/ws/"}
    return links


class ApiRootView(APIView):
    """The TaskFlow API: where everything is. Sign in with `auth.token`, then send
    `Authorization: Bearer <access>` to the others; `docs.swagger_ui` documents each of them."""

    # Public: a client finds the token endpoint here before it has a token, and a stale bearer
    # token is no reason to refuse the map. The session only tells the browsable API who is in.
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    def get_view_name(self) -> str:
        return "TaskFlow API"

    @extend_schema(
        summary="The map of the API",
        responses=inline_serializer(
            "ApiRoot",
            {
                group: serializers.DictField(child=serializers.CharField(), help_text=f"{group.title()} routes.")
                for group in [*ROUTES, "realtime"]
            },
        ),
    )
    def get(self, request):
        return Response(api_links(request))
