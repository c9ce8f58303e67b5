"""Account endpoints: register, JWT token obtain/refresh/verify, logout, profile, password."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts import services
from accounts.serializers import (
    LogoutSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    RegisterSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
    UserSummarySerializer,
)
from accounts.throttles import AuthEndpointThrottle
from taskflow.openapi import error_response

# The token endpoints answer 401 themselves: they take no credentials but judge the ones sent.
BAD_CREDENTIALS = error_response("No active account with this username and password.")
BAD_TOKEN = error_response("The token is invalid, expired or blacklisted (`code`: `token_not_valid`).")


class RegisterView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: UserSummarySerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSummarySerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema_view(post=extend_schema(responses={200: TokenObtainPairSerializer, 401: BAD_CREDENTIALS}))
class TokenObtainView(jwt_views.TokenObtainPairView):
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token"


@extend_schema_view(post=extend_schema(responses={200: TokenRefreshSerializer, 401: BAD_TOKEN}))
class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token_refresh"


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
        services.user_update_profile(user=self.request.user, data=serializer.validated_data)


class PasswordChangeView(APIView):
    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.user_change_password(user=request.user, new_password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
