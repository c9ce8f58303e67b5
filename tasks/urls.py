"""Routes of the invitation API, included under /api/ (the other routes of the tasks app are the
router's and the members', in taskflow.urls)."""

from django.urls import path, re_path

from tasks.api import ID_PATTERN, InvitationAcceptView, InvitationViewSet

INVITATIONS = rf"^projects/(?P<project_id>{ID_PATTERN})/invitations/"

urlpatterns = [
    re_path(
        rf"{INVITATIONS}$",
        InvitationViewSet.as_view({"get": "list", "post": "create"}, suffix="List"),
        name="project-invitations",
    ),
    re_path(
        rf"{INVITATIONS}(?P<invitation_id>{ID_PATTERN})/$",
        InvitationViewSet.as_view({"delete": "destroy"}, suffix="Instance"),
        name="project-invitation",
    ),
    path("invitations/accept/", InvitationAcceptView.as_view(), name="invitation-accept"),
]
