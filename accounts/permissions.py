"""The API's default permission: an authenticated user, checked against the database first."""

from rest_framework import permissions

from accounts.authentication import user_check


class IsAuthenticated(permissions.IsAuthenticated):
    """DRF's IsAuthenticated; a user known from a token's claims is checked (one query) first.

    A view whose own query checks the user for some actions (it joins the user's row: see
    `accounts.authentication.user_check_by_row`) names them in `actions_checking_the_user`.
    """

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if getattr(view, "action", None) not in getattr(view, "actions_checking_the_user", ()):
            user_check(request.user)
        return True
