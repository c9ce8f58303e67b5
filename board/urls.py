"""Routes of the board's pages: sign-in and sign-out, the caller's projects, a project's board."""

from django.urls import path, re_path

from board import views
from tasks.api import ID_PATTERN

app_name = "board"

urlpatterns = [
    path("", views.projects, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    re_path(rf"^projects/(?P<project_id>{ID_PATTERN})/$", views.board, name="project"),
]
