"""Account endpoints: register, JWT token obtain/refresh/verify, logout, profile, password change
and reset, personal access tokens, and the access token of a browser page's session."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import selectors, services
from accounts.authentication import BrowserSessionAuthentication, is_personal_token
from accounts.models import PersonalAccessToken
from accounts.payloads import personal_token_payload
from accounts.permissions import IsAuthenticated, SignedInWithPassword
from accounts.serializers import (
    LogoutSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    PasswordResetAcceptedSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    PersonalTokenCreatedSerializer,
    PersonalTokenSerializer,
    RegisterSerializer,
    SessionAccessTokenSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
    UserSummarySerializer,
)
from accounts.throttles import AuthEndpointThrottle
from taskflow.errors import AccessDenied
from taskflow.openapi import error_response

# The token endpoints answer 401 themselves: they take no credentials but judge the ones sent.
BAD_CREDENTIALS = error_response("No active account with this username and password.")
BAD_TOKEN = error_response("The token is invalid, expired or blacklisted (`code`: `token_not_valid`).")
REGISTRATION_CLOSED = error_response("Registration is closed (`TASKFLOW_REGISTRATION=closed`).")
NO_SESSION = error_response(
    "No signed-in session (a bearer token does not count), or the request failed the CSRF check."
)


class RegisterView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: UserSummarySerializer, 403: REGISTRATION_CLOSED})
    def post(self, request):
        # TASKFLOW_REGISTRATION: `open`, `invite` (the serializer then requires `invitation`) or `closed`.
        if settings.TASKFLOW_REGISTRATION == "closed":
            raise AccessDenied("Registration is closed: ask an administrator for an account.")
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSummarySerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema_view(post=extend_schema(responses={200: TokenObtainPairSerializer, 401: BAD_CREDENTIALS}))
class TokenObtainView(jwt_views.TokenObtainPairView):
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token"
    # Its answer is a pair of tokens: never kept for an Idempotency-Key (accounts.idempotency).
    answer_holds_credentials = True


@extend_schema_view(post=extend_schema(responses={200: TokenRefreshSerializer, 401: BAD_TOKEN}))
class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token_refresh"
    answer_holds_credentials = True


@extend_schema_view(
    post=extend_schema(
        responses={
            200: OpenApiResponse(
                {"type": "object", "maxProperties": 0}, description="The token is valid: an empty object."
            ),
            401: BAD_TOKEN,
        }
    )
)
class TokenVerifyView(jwt_views.TokenVerifyView):
    serializer_class = TokenVerifySerializer
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token_verify"


class LogoutView(jwt_views.TokenBlacklistView):
    """Blacklist the given refresh token; no access token is needed, so a lapsed session can end."""

    @extend_schema(request=LogoutSerializer, responses={205: None, 401: BAD_TOKEN})
    def post(self, request, *args, **kwargs):
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(generics.RetrieveUpdateAPIView):
    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        if "email" in serializer.validated_data and is_personal_token(self.request.auth):
            # The address a password reset goes to: only its owner, signed in with the password, moves it.
            raise PermissionDenied("A personal access token cannot change the email address.")
        services.user_update_profile(user=self.request.user, data=serializer.validated_data)


# One answer for every address, so that it tells nobody whether an account has it.
PASSWORD_RESET_ACCEPTED = {"detail": "If an account has this email address, a password reset email is on its way."}


class PasswordResetView(APIView):
    """Ask for a password reset email; 202 whatever the address."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "password_reset"

    @extend_schema(request=PasswordResetSerializer, responses={202: PasswordResetAcceptedSerializer})
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_reset_request(email=serializer.validated_data["email"])
        return Response(PASSWORD_RESET_ACCEPTED, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Choose a new password with the `uid` and `token` of a reset email; every session ends."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "password_reset_confirm"

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_reset(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated, SignedInWithPassword]

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.user_change_password(user=request.user, new_password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonalTokensView(generics.ListCreateAPIView):
    """The caller's personal access tokens, for bots and scripts; never with a personal token."""

    permission_classes = [IsAuthenticated, SignedInWithPassword]
    serializer_class = PersonalTokenSerializer
    # A new token is shown once and stored hashed: its answer is never kept for an Idempotency-Key.
    answer_holds_credentials = True
    queryset = PersonalAccessToken.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.personal_tokens_of(user=self.request.user)

    @extend_schema(request=PersonalTokenSerializer, responses={201: PersonalTokenCreatedSerializer})
    def post(self, request):
        serializer = PersonalTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.personal_token_create(user=request.user, **serializer.validated_data)
        return Response({**personal_token_payload(token), "token": raw}, status=status.HTTP_201_CREATED)


class PersonalTokenView(APIView):
    """Revoke one of the caller's tokens, at once."""

    permission_classes = [IsAuthenticated, SignedInWithPassword]

    @extend_schema(responses={204: None})
    def delete(self, request, token_id):
        token = selectors.personal_token_get(user=request.user, token_id=int(token_id))
        services.personal_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionTokenView(APIView):
    """A short-lived access token for the signed-in browser session: what the board's page
    (board/) calls the API and the WebSocket with. Authenticated by the session alone, CSRF checked
    (accounts.authentication.BrowserSessionAuthentication); no refresh token: the page asks again
    before this one expires. The page keeps the token in memory only."""

    authentication_classes = [BrowserSessionAuthentication]
    # A token, made fresh for each request: never kept for an Idempotency-Key (accounts.idempotency).
    answer_holds_credentials = True

    @extend_schema(request=None, responses={200: SessionAccessTokenSerializer, 403: NO_SESSION})
    def post(self, request):
        token = AccessToken.for_user(request.user)
        answer = {"access": str(token), "expires_at": datetime_from_epoch(token["exp"])}
        return Response(SessionAccessTokenSerializer(answer).data)
