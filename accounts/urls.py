"""Routes under /api/auth/."""

from django.urls import path, re_path

from accounts import api

urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="auth-register"),
    path("token/", api.TokenObtainView.as_view(), name="auth-token"),
    path("token/refresh/", api.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("token/verify/", api.TokenVerifyView.as_view(), name="auth-token-verify"),
    path("logout/", api.LogoutView.as_view(), name="auth-logout"),
    path("me/", api.MeView.as_view(), name="auth-me"),
    path("password/", api.PasswordChangeView.as_view(), name="auth-password"),
    path("password/reset/", api.PasswordResetView.as_view(), name="auth-password-reset"),
    path("password/reset/confirm/", api.PasswordResetConfirmView.as_view(), name="auth-password-reset-confirm"),
    path("tokens/", api.PersonalTokensView.as_view(), name="auth-tokens"),
    path("session/token/", api.SessionTokenView.as_view(), name="auth-session-token"),
    re_path(r"^tokens/(?P<token_id>[0-9]{1,18})/$", api.PersonalTokenView.as_view(), name="auth-token-revoke"),
]
