"""The REST changes feed: `GET /api/projects/{id}/events/?since=&limit=`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.events import event_record
from realtime.selectors import EventsPruned, event_list_since
from tasks.selectors import project_get_for_user

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class EventsQuerySerializer(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class ProjectEventsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("since", int, description="Events with a greater seq (default 0)."),
            OpenApiParameter(
                "limit", int, description=f"At most this many (default {DEFAULT_LIMIT}, max {MAX_LIMIT})."
            ),
        ],
        responses={
            200: inline_serializer(
                "EventPage",
                {
                    "events": serializers.ListField(child=serializers.DictField()),
                    "last_seq": serializers.IntegerField(),
                    "has_more": serializers.BooleanField(),
                },
            ),
            410: None,
        },
    )
    def get(self, request, project_pk):
        project = project_get_for_user(user=request.user, project_id=int(project_pk))
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
