"""JWT authentication of API requests and WebSockets: simplejwt's, with a faster user lookup."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import User
from accounts.selectors import user_by_id


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's JWTAuthentication, reading the user with one hand-written query.

    Every API request authenticates, and building the ORM query cost more than running it
    (bench/README.md). The checks are simplejwt's: the user exists and is active, and the token
    was issued since the last password change (its revoke claim).
    """

    def get_user(self, validated_token: Token) -> User:
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidToken(_("Token contained no recognizable user identification")) from error
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI description of this authentication: simplejwt's bearer scheme."""

    target_class = "accounts.authentication.JWTAuthentication"
