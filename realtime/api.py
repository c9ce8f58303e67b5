"""The REST changes feed (`GET /api/projects/{id}/events/?since=&limit=`), the activity history
(`GET /api/projects/{id}/activity/`, `GET /api/tasks/{id}/activity/`) and the AsyncAPI document of
the WebSocket stream (`GET /api/asyncapi/`)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.asyncapi import asyncapi_document
from realtime.events import event_record
from realtime.models import Activity
from realtime.selectors import EventsPruned, activity_of_project, activity_of_task, event_list_since
from realtime.serializers import ActivitySerializer, EventPageSerializer
from taskflow.openapi import error_response
from tasks.selectors import project_get_for_user, task_get_for_user

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class EventsQuerySerializer(serializers.Serializer):
    since = serializers.IntegerField(
        min_value=0, max_value=2**63 - 1, default=0, help_text="Events with a greater seq (default 0)."
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"At most this many (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).",
    )


class ProjectEventsView(APIView):
    @extend_schema(
        parameters=[EventsQuerySerializer],
        responses={
            200: EventPageSerializer,
            410: error_response(
                "`since` is older than the retained log: reload the project's state, then follow the feed "
                "from its `event_seq`."
            ),
        },
    )
    def get(self, request, project_id):
        project = project_get_for_user(user=request.user, project_id=int(project_id))
        query = EventsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, limit = query.validated_data["since"], query.validated_data["limit"]
        try:
            events = event_list_since(project=project, since=since, limit=limit)
        except EventsPruned:
            return Response(
                {"detail": "Events after this seq are no longer retained; reload the project state."},
                status=status.HTTP_410_GONE,
            )
        records = [event_record(event) for event in events]
        last_seq = records[-1]["seq"] if records else since
        return Response({"events": records, "last_seq": last_seq, "has_more": last_seq < project.event_seq})


class _ActivityView(generics.ListAPIView):
    """The activity history, newest first, a page at a time."""

    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()  # for the schema; requests use get_queryset()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ProjectActivityView(_ActivityView):
    """Every change to a project's tasks (deleted ones too), comments, attachments and members."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        project = project_get_for_user(user=self.request.user, project_id=int(self.kwargs["project_id"]))
        return activity_of_project(project=project)


class TaskActivityView(_ActivityView):
    """Every change to a task, its comments and its attachments."""

    def caller_read(self) -> None:
        """The task, read with the caller's role and row (accounts.permissions): one query."""
        self.task = task_get_for_user(user=self.request.user, task_id=int(self.kwargs["task_id"]))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return activity_of_task(task=self.task)


class AsyncApiView(APIView):
    """The AsyncAPI 3 document of `/ws/`, in JSON: public like the OpenAPI schema (`/api/schema/`),
    and the same for every caller, so no credentials are read (a stale token is no reason to refuse it)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    # Left out of the OpenAPI schema, as the schema's own route is (SERVE_INCLUDE_SCHEMA).
    @extend_schema(exclude=True)
    def get(self, request):
        return Response(asyncapi_document(host=request.get_host(), secure=request.is_secure()))
