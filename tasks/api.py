"""Project, member, task and invitation endpoints: validate input, call a service or selector, render."""

import re

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, mixins, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from taskflow.http.negotiation import JSON
from taskflow.openapi import error_response
from tasks import selectors, services
from tasks.filters import TaskFilter
from tasks.models import Invitation, Membership, Project, Task
from tasks.page_cache import (
    task_body_get,
    task_body_set,
    task_page_body,
    task_page_etag,
    task_page_get,
    task_page_key,
    task_page_set,
)
from tasks.serializers import (
    MAX_ID,
    InvitationAcceptedSerializer,
    InvitationAcceptSerializer,
    InvitationSerializer,
    MemberAddSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    ProjectSerializer,
    TaskChangeSerializer,
    TaskMergeConflictSerializer,
    TaskSerializer,
    UserLookupSerializer,
    UserSearchQuerySerializer,
)

# Path ids: digits only, and short enough for a 64-bit column; anything else is a JSON 404.
ID_PATTERN = r"[0-9]{1,18}"

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The task version the change is based on, as `"<version>"`; 412 if it is not current.',
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An `ETag` this client has: 304 (no body) while it is still the current one.",
)


def _response_header(name: str, type_, codes: list[int], description: str, *, required: bool = True):
    """A header of the responses with these status codes, for `extend_schema(parameters=...)`."""
    return OpenApiParameter(
        name, type_, OpenApiParameter.HEADER, description=description, response=codes, required=required
    )


TASK_ETAG = 'The task\'s version, as `"<version>"`: send it back in `If-Match` (or `If-None-Match`).'
# A list is tagged only when it is filtered by one project the caller belongs to (its pages are
# cached under the project's event seq: tasks.page_cache).
PAGE_ETAG = (
    "A weak tag of this page when the list is filtered by one `project`; it changes with every change of the project."
)
EVENT_SEQ = (
    "The project's latest event seq, read before the tasks, when the list is filtered by one `project`: "
    "follow its events from there."
)
NOT_MODIFIED = OpenApiResponse(description="Not Modified: `If-None-Match` names the current `ETag`; no body.")
STALE_VERSION = OpenApiResponse(
    TaskSerializer, description="Precondition Failed: `If-Match` names another version. The body is the current task."
)
TASK_WRITE = extend_schema(
    request=TaskChangeSerializer,
    parameters=[IF_MATCH, _response_header("ETag", OpenApiTypes.STR, [200, 412], TASK_ETAG)],
    responses={200: TaskSerializer, 412: STALE_VERSION},
)
MERGE = "merge"
PREFER = OpenApiParameter(
    "Prefer",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "`merge`, with `If-Match`: a stale version is no conflict unless a field this request sends was changed "
        "after it; the change then goes on top of the current task. Otherwise 412 naming those fields. Other "
        "preferences are ignored."
    ),
)
TASK_PATCH = extend_schema(
    request=TaskChangeSerializer,
    parameters=[
        IF_MATCH,
        PREFER,
        _response_header("ETag", OpenApiTypes.STR, [200, 412], TASK_ETAG),
        _response_header(
            "Preference-Applied",
            OpenApiTypes.STR,
            [200],
            "`merge` when the request had `Prefer: merge` and `If-Match`: the change was merged.",
            required=False,
        ),
    ],
    responses={
        200: TaskSerializer,
        412: OpenApiResponse(
            PolymorphicProxySerializer(
                component_name="TaskPreconditionFailed",
                serializers=[TaskSerializer, TaskMergeConflictSerializer],
                resource_type_field_name=None,
            ),
            description=(
                "Precondition Failed: `If-Match` names another version. The body is the current task; with "
                "`Prefer: merge`, `{detail, conflicts, current}`: the fields sent that were changed since."
            ),
        ),
    },
)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` header names `etag` (weak comparison, `*` matches any)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def expected_version(request) -> int | None:
    """The version named by `If-Match`: None when absent or `*`; 0 (never current) when malformed."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else 0


# One preference of a `Prefer` header (RFC 7240): anything up to a comma outside a quoted string.
_PREFERENCE = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')


def preferences(request) -> set[str]:
    """The names of the preferences in the request's `Prefer` headers, in lower case (they are
    case-insensitive): `Prefer: merge, return=minimal` gives {"merge", "return"}."""
    header = request.headers.get("Prefer") or ""
    names = (item.split(";", 1)[0].split("=", 1)[0].strip().lower() for item in _PREFERENCE.findall(header))
    return {name for name in names if name}


class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # for the schema; requests use get_queryset()
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.project_list_for_user(user=self.request.user)

    def get_object(self):
        return selectors.project_get_for_user(user=self.request.user, project_id=int(self.kwargs["pk"]))

    def perform_create(self, serializer):
        project = services.project_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = selectors.project_get_for_user(user=self.request.user, project_id=project.pk)

    def perform_update(self, serializer):
        services.project_update(project=serializer.instance, actor=self.request.user, data=serializer.validated_data)
        serializer.instance = self.get_object()

    def perform_destroy(self, instance):
        services.project_delete(project=instance, actor=self.request.user)


class MemberViewSet(viewsets.GenericViewSet):
    """Members of one project: `/api/projects/{project_id}/members/[{user_id}/]`."""

    serializer_class = MemberSerializer
    queryset = Membership.objects.none()  # for the schema; requests use get_queryset()
    lookup_field = "user_id"
    lookup_value_regex = ID_PATTERN

    def get_project(self):
        return selectors.project_get_for_user(user=self.request.user, project_id=int(self.kwargs["project_id"]))

    def get_queryset(self):
        return selectors.member_list(project=self.get_project())

    def list(self, request, project_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer})
    def create(self, request, project_id):
        project = self.get_project()
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_add(project=project, actor=request.user, **serializer.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleSerializer, responses={200: MemberSerializer})
    def partial_update(self, request, project_id, user_id):
        project = self.get_project()
        membership = selectors.member_get(project=project, user_id=int(user_id))
        # A PATCH, so every field is optional: one without `role` changes nothing.
        serializer = MemberRoleSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        membership = services.member_change_role(
            project=project, actor=request.user, membership=membership, role=serializer.validated_data.get("role")
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 400: error_response("The owner cannot be removed.")})
    def destroy(self, request, project_id, user_id):
        project = self.get_project()
        membership = selectors.member_get(project=project, user_id=int(user_id))
        services.member_remove(project=project, actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            # An integer: the filter's own description says "number", and 1.5 is a 400.
            OpenApiParameter(
                "project",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                description="A project id; filtered by one project, the list carries `X-Event-Seq` and an `ETag`.",
            ),
            IF_NONE_MATCH,
            _response_header("ETag", OpenApiTypes.STR, [200], PAGE_ETAG, required=False),
            _response_header("ETag", OpenApiTypes.STR, [304], PAGE_ETAG),
            _response_header("X-Event-Seq", OpenApiTypes.INT, [200], EVENT_SEQ, required=False),
            _response_header("X-Event-Seq", OpenApiTypes.INT, [304], EVENT_SEQ),
        ],
        responses={200: TaskSerializer, 304: NOT_MODIFIED},
    ),
    create=extend_schema(parameters=[_response_header("ETag", OpenApiTypes.STR, [201], TASK_ETAG)]),
    retrieve=extend_schema(
        parameters=[IF_NONE_MATCH, _response_header("ETag", OpenApiTypes.STR, [200, 304], TASK_ETAG)],
        responses={200: TaskSerializer, 304: NOT_MODIFIED},
    ),
    update=TASK_WRITE,
    partial_update=TASK_PATCH,
    destroy=extend_schema(
        parameters=[IF_MATCH, _response_header("ETag", OpenApiTypes.STR, [412], TASK_ETAG)],
        responses={204: None, 412: STALE_VERSION},
    ),
)
class TaskViewSet(viewsets.ModelViewSet):
    serializer_class = TaskSerializer
    queryset = Task.objects.none()  # for the schema; requests use get_queryset()
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    lookup_value_regex = ID_PATTERN
    # Whether this request's change was made as a merge (`Prefer: merge`): perform_update decides.
    merged = False

    def caller_read(self) -> None:
        """The request's first read, made by the permission that checks the caller
        (accounts.permissions) before the view runs: the task of a detail route, or the seq of the
        project a list names, each read in one query with the caller's row, which checks the
        caller's token on the way (no query of its own)."""
        if "pk" in self.kwargs:
            self.task = selectors.task_get_for_user(user=self.request.user, task_id=int(self.kwargs["pk"]))
        elif self.action == "list":
            # Read before the tasks, so "load, then subscribe since this seq" misses nothing.
            self.event_seq = selectors.project_event_seq_for_user(
                user=self.request.user, project_id=self.request.query_params.get("project")
            )

    def get_queryset(self):
        return selectors.task_list_for_user(user=self.request.user)

    def get_object(self):
        return self.task

    def list(self, request, *args, **kwargs):
        event_seq = self.event_seq
        if event_seq is None:
            return super().list(request, *args, **kwargs)
        # One project the caller belongs to: its pages are cached under its seq (tasks.page_cache).
        key = task_page_key(
            project_id=int(request.query_params["project"]),
            event_seq=event_seq,
            query=request.query_params,
            user_id=request.user.pk,
        )
        headers = {"X-Event-Seq": str(event_seq), "ETag": task_page_etag(key)}
        if _matches(request.headers.get("If-None-Match"), headers["ETag"]):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        if not isinstance(request.accepted_renderer, JSONRenderer):
            # The browsable API renders the page itself: straight from the database.
            response = super().list(request, *args, **kwargs)
        else:
            page = task_page_get(key)
            if page is None:
                rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
                results = self.get_serializer(rows, many=True).data
                page = {"results": JSONRenderer().render(results), "has_next": self.paginator.has_next}
                task_page_set(key, page)
            else:
                self.paginator.read_request(request, has_next=page["has_next"])
            # The cached results are JSON already: the page is spliced around them, not re-encoded.
            response = HttpResponse(task_page_body(self.paginator, page["results"]), content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        return response

    def retrieve(self, request, *args, **kwargs):
        task = self.get_object()
        etag = f'"{task.version}"'
        if _matches(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        if not isinstance(request.accepted_renderer, JSONRenderer) or request.accepted_media_type != JSON:
            # The browsable API, or JSON with parameters (indent): DRF renders it.
            return Response(self.get_serializer(task).data, headers={"ETag": etag})
        # A version's JSON never changes (tasks.page_cache): rendered once per process.
        body = task_body_get(task.pk, task.version)
        if body is None:
            body = JSONRenderer().render(self.get_serializer(task).data)
            task_body_set(task.pk, task.version, body)
        return HttpResponse(body, content_type="application/json", headers={"ETag": etag})

    def create(self, request, *args, **kwargs):
        return self._with_etag(super().create(request, *args, **kwargs))

    def update(self, request, *args, **kwargs):
        response = self._with_etag(super().update(request, *args, **kwargs))
        if self.merged:
            response["Preference-Applied"] = MERGE
        return response

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        project = selectors.project_get_for_user(user=self.request.user, project_id=data.pop("project").pk)
        serializer.instance = services.task_create(project=project, actor=self.request.user, data=data)

    def perform_update(self, serializer):
        version = expected_version(self.request)
        # Only a PATCH merges, and only against the version it names; a PUT ignores the preference.
        self.merged = serializer.partial and version is not None and MERGE in preferences(self.request)
        serializer.instance = services.task_update(
            task=serializer.instance,
            actor=self.request.user,
            data=serializer.validated_data,
            expected_version=version,
            merge=self.merged,
        )

    def perform_destroy(self, instance):
        services.task_delete(task=instance, actor=self.request.user, expected_version=expected_version(self.request))

    @staticmethod
    def _with_etag(response: Response) -> Response:
        if response.data and "version" in response.data:
            response["ETag"] = f'"{response.data["version"]}"'
        return response


# Reads are refused too: only the owner and admins see a project's invitations (writes get the
# 403 of every write from the schema's generic errors).
NOT_A_MEMBER_MANAGER = error_response("The caller is a member of the project but not its owner or an admin.")


@extend_schema_view(list=extend_schema(responses={200: InvitationSerializer, 403: NOT_A_MEMBER_MANAGER}))
class InvitationViewSet(viewsets.GenericViewSet):
    """A project's pending invitations: `/api/projects/{project_id}/invitations/[{invitation_id}/]`."""

    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()  # for the schema; requests use get_queryset()

    def get_project(self):
        return selectors.project_get_for_invitations(user=self.request.user, project_id=int(self.kwargs["project_id"]))

    def get_queryset(self):
        return selectors.invitation_list(project=self.get_project())

    def list(self, request, project_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(request=InvitationSerializer, responses={201: InvitationSerializer})
    def create(self, request, project_id):
        project = self.get_project()
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(project=project, actor=request.user, **serializer.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, project_id, invitation_id):
        project = self.get_project()
        invitation = selectors.invitation_get(project=project, invitation_id=int(invitation_id))
        services.invitation_revoke(project=project, actor=request.user, invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(APIView):
    """Accept an invitation with the token its email carries: you become a member of its project."""

    @extend_schema(request=InvitationAcceptSerializer, responses={200: InvitationAcceptedSerializer})
    def post(self, request):
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.invitation_accept(token=serializer.validated_data["token"], actor=request.user)
        return Response(InvitationAcceptedSerializer({"project": membership.project_id, "role": membership.role}).data)


@extend_schema(parameters=[UserSearchQuerySerializer])
class UserSearchView(generics.ListAPIView):
    """`/api/users/?search=`: people who share a project with the caller, found by name, to assign
    or mention; by username, a page at a time. Nobody outside the caller's projects is listed."""

    serializer_class = UserLookupSerializer
    queryset = User.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        query = UserSearchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.user_list_sharing_projects(user=self.request.user, search=query.validated_data["search"])

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
