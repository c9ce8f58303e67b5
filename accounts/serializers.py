"""Input and output shapes of the account endpoints."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import UntypedToken

from accounts.authentication import JWTAuthentication
from accounts.models import User
from taskflow.fields import StrictCharField


def _email_is_free(email: str, *, excluding: User | None = None) -> str:
    others = User.objects.filter(email__iexact=email)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    if others.exists():
        raise serializers.ValidationError("A user with this email address already exists.")
    return email


class RegisterSerializer(serializers.Serializer):
    # The model's own rules, on the field, so that the schema documents them (as a pattern).
    username = StrictCharField(max_length=150, validators=[User.username_validator])
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(write_only=True, max_length=128, trim_whitespace=False)

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value

    def validate_email(self, value: str) -> str:
        return _email_is_free(value)

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class MeSerializer(serializers.ModelSerializer):
    first_name = StrictCharField(max_length=150, allow_blank=True, required=False)
    last_name = StrictCharField(max_length=150, allow_blank=True, required=False)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "date_joined"]
        read_only_fields = ["id", "username", "date_joined"]

    def validate_email(self, value: str) -> str:
        return _email_is_free(value, excluding=self.instance)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = StrictCharField(max_length=128, trim_whitespace=False)
    new_password = StrictCharField(max_length=128, trim_whitespace=False)

    def validate_old_password(self, value: str) -> str:
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError("The current password is not correct.")
        return value

    def validate_new_password(self, value: str) -> str:
        try:
            validate_password(value, user=self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


class LogoutSerializer(serializers.Serializer):
    refresh = StrictCharField()


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's refresh, answering 401 rather than failing when the token's user was deleted."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None


class TokenVerifySerializer(serializers.Serializer):
    """A token is valid when it is signed, unexpired and not blacklisted, and, for an access token,
    when its user is active and has not changed password since: what the API itself would accept."""

    token = StrictCharField(write_only=True)

    def validate(self, attrs: dict) -> dict:
        token = UntypedToken(attrs["token"])  # TokenError -> 401 in the view
        if BlacklistedToken.objects.filter(token__jti=token.get(jwt_settings.JTI_CLAIM)).exists():
            raise InvalidToken("Token is blacklisted.")
        if token.get(jwt_settings.TOKEN_TYPE_CLAIM) == "access":
            JWTAuthentication().get_user(token)  # AuthenticationFailed (401) for a user it no longer admits
        return {}
