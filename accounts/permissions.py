"""The API's default permission, and the one place a request's caller is checked against the database."""

from rest_framework import permissions
from rest_framework.exceptions import PermissionDenied

from accounts.authentication import is_personal_token, user_check
from accounts.models import TokenScope


class IsAuthenticated(permissions.IsAuthenticated):
    """DRF's IsAuthenticated; a user known only from a token's claims is then checked, before the
    view runs: active, and the token issued since the last password change (401 otherwise).

    Every API view has this permission, so every request's caller is checked here, whatever the
    view. A view may first make its own first read here (its `caller_read()`), in one query that
    joins the caller's row and checks the caller on the way (accounts.authentication's
    `user_check_by_row`): then `user_check` has nothing left to do. If the read did not check the
    caller, `user_check` does, with a query of its own: a view can make a request cheaper, never
    let an unchecked caller through.

    A request with a personal access token of scope `read` may only read: any other method is a
    403, once the token is checked and before the view writes anything.
    """

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        caller_read = getattr(view, "caller_read", None)
        if caller_read is not None:
            caller_read()
        user_check(request.user)
        # Once checked: the token's scope is known (and a bad token was a 401 first). The view has
        # only read so far.
        if (
            is_personal_token(request.auth)
            and request.auth.scope == TokenScope.READ
            and request.method not in permissions.SAFE_METHODS
        ):
            raise PermissionDenied("This personal access token may only read.")
        return True


class SignedInWithPassword(permissions.BasePermission):
    """Refuses requests made with a personal access token (403): what manages a user's access
    (their tokens, their password) needs a session from their password, a JWT or a login."""

    message = "A personal access token cannot manage tokens or the password: sign in with the password."

    def has_permission(self, request, view) -> bool:
        return not is_personal_token(request.auth)
