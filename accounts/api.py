"""Account endpoints: register, JWT token obtain/refresh/verify, logout, profile, password."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

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


class TokenObtainView(jwt_views.TokenObtainPairView):
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token"


class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token_refresh"


class TokenVerifyView(jwt_views.TokenVerifyView):
    serializer_class = TokenVerifySerializer
    throttle_classes = (AuthEndpointThrottle,)
    throttle_scope = "token_verify"


class LogoutView(jwt_views.TokenBlacklistView):
    """Blacklist the given refresh token; no access token is needed, so a lapsed session can end."""

    @extend_schema(request=LogoutSerializer, responses={205: None})
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
