"""Input and output shapes of the account endpoints."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.authentication import BearerAuthentication
from accounts.models import PersonalAccessToken, TokenScope, User
from accounts.password_reset import PASSWORD_RESET_INVALID, password_reset_user
from accounts.payloads import PersonalTokenPayload, personal_token_payload
from taskflow.fields import StrictBooleanField, StrictCharField


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
    invitation = StrictCharField(
        write_only=True,
        required=False,
        max_length=128,
        help_text="An invitation token, for this email address: the invitation is accepted with the registration. "
        "Required when registration is by invitation only (`TASKFLOW_REGISTRATION=invite`).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per request, not at import, so that operators and tests can change the mode.
        self.fields["invitation"].required = settings.TASKFLOW_REGISTRATION == "invite"

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
    email_notifications = StrictBooleanField(
        required=False, help_text="Whether notifications also come by email (they always reach sockets and the list)."
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "email_notifications", "date_joined"]
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


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="The same for every address, whether an account has it or not.")


class PasswordResetConfirmSerializer(serializers.Serializer):
    """The reset's `uid` and `token` (from its email) and the new password, checked here for the
    field errors; accounts.services.user_password_reset checks the token again, with the user's
    row locked, so that it works once."""

    uid = StrictCharField(max_length=32, help_text="The `uid` of the reset email.")
    token = StrictCharField(max_length=64, help_text="The `token` of the reset email.")
    new_password = StrictCharField(max_length=128, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        user = password_reset_user(attrs["uid"], attrs["token"])
        if user is None:
            raise serializers.ValidationError({"token": [PASSWORD_RESET_INVALID]})
        try:
            validate_password(attrs["new_password"], user=user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": list(exc.messages)}) from None
        return attrs


class LogoutSerializer(serializers.Serializer):
    refresh = StrictCharField()


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's refresh with rotation, in which a refresh token is spent exactly once.

    simplejwt checks the blacklist, then adds the token to it (get_or_create): two refreshes of one
    token at the same moment both passed the check, and both got new tokens (20 at once: 8 did).
    Here the token is spent first, by inserting it into the blacklist, whose unique key lets
    exactly one insert through; every other attempt is a 401, however many run at once. The rest
    is simplejwt's: the user must exist and be active, the new refresh token is recorded as
    outstanding. Written out rather than calling simplejwt's `validate`, which would find the
    token already spent.
    """

    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])  # signed, unexpired, not blacklisted: else 401
        with transaction.atomic():
            _refresh_token_spend(refresh)
            user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: refresh.payload.get(jwt_settings.USER_ID_CLAIM)})
            if not jwt_settings.USER_AUTHENTICATION_RULE(user.first()):
                raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
            data = {"access": str(refresh.access_token)}
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh.outstand()
            data["refresh"] = str(refresh)
        return data


def _refresh_token_spend(refresh: RefreshToken) -> None:
    """Blacklist `refresh` by inserting it; a 401 if it is there already (spent, or being spent by a
    concurrent refresh, whose insert this one waits for)."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=refresh.payload[jwt_settings.JTI_CLAIM],
        defaults={
            "user_id": refresh.payload.get(jwt_settings.USER_ID_CLAIM),
            "token": str(refresh),
            "created_at": refresh.current_time,
            "expires_at": datetime_from_epoch(refresh.payload["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise InvalidToken("Token is blacklisted") from None


class TokenVerifySerializer(serializers.Serializer):
    """A token is valid when it is signed, unexpired and not blacklisted, and, for an access token,
    when its user is active and has not changed password since: what the API itself would accept."""

    token = StrictCharField(write_only=True)

    def validate(self, attrs: dict) -> dict:
        token = UntypedToken(attrs["token"])  # TokenError -> 401 in the view
        if BlacklistedToken.objects.filter(token__jti=token.get(jwt_settings.JTI_CLAIM)).exists():
            raise InvalidToken("Token is blacklisted.")
        if token.get(jwt_settings.TOKEN_TYPE_CLAIM) == "access":
            BearerAuthentication().get_user(token)  # AuthenticationFailed (401) for a user it no longer admits
        return {}


class PersonalTokenSerializer(serializers.ModelSerializer):
    """A personal access token: made with `name`, `scope` and an optional `expires_at`."""

    name = StrictCharField(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices, help_text="`read` (GET only) or `write`.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it stops working; at most a year ahead. Never, by default."
    )

    class Meta:
        model = PersonalAccessToken
        fields = ["id", "name", "scope", "created_at", "expires_at", "last_used_at"]
        read_only_fields = ["id", "created_at", "last_used_at"]

    def to_representation(self, instance: PersonalAccessToken) -> PersonalTokenPayload:
        return personal_token_payload(instance)


class PersonalTokenCreatedSerializer(PersonalTokenSerializer):
    """The answer to making a token: the only one that shows `token`. Keep it: it is not stored."""

    token = serializers.CharField(read_only=True, help_text="`tfp_...`: send it as `Authorization: Bearer <token>`.")

    class Meta(PersonalTokenSerializer.Meta):
        fields = [*PersonalTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*PersonalTokenSerializer.Meta.read_only_fields, "token"]


class SessionAccessTokenSerializer(serializers.Serializer):
    """The access token a signed-in browser page gets for its session (no refresh token)."""

    access = serializers.CharField(help_text="A JWT: send it as `Authorization: Bearer <access>` and in `auth` frames.")
    expires_at = serializers.DateTimeField(help_text="When it stops working (`JWT_ACCESS_MINUTES` after it was made).")
