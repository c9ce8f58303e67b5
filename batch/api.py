"""`POST /api/batch/`: validate the envelope, apply the commands (batch.commands), render the outcome."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.commands import CommandFailed, batch_apply
from batch.serializers import BatchAppliedSerializer, BatchFailedSerializer, BatchSerializer
from taskflow.errors import exception_handler
from taskflow.openapi import BAD_REQUEST_SCHEMA, ERROR, component_ref

FAILED = component_ref("BatchFailed")

EXAMPLE = {
    "commands": [
        {"op": "task.create", "temp_id": "draft", "args": {"project": 3, "title": "Write the release notes"}},
        {"op": "task.update", "id": "draft", "args": {"status": "in_progress"}},
        {"op": "comment.create", "args": {"task": "draft", "body": "Started offline."}},
        {"op": "task.update", "id": 41, "if_match": 7, "args": {"priority": "high"}},
    ]
}


class BatchView(APIView):
    """Several task and comment writes in one request, applied in order in one transaction: all of
    them, or none (the answer then names the first command that failed and its error)."""

    @extend_schema(
        summary="Apply several writes, all or nothing",
        request=BatchSerializer,
        examples=[OpenApiExample("Offline changes", value=EXAMPLE, request_only=True)],
        responses={
            200: BatchAppliedSerializer,
            400: OpenApiResponse(
                {"oneOf": [FAILED, *BAD_REQUEST_SCHEMA["oneOf"]]},
                description="A command's input is invalid (`failed`, `error`: nothing was applied), or the batch "
                "itself is (`commands` not a list of 1 to 100, a malformed body).",
            ),
            403: OpenApiResponse(
                {"oneOf": [FAILED, component_ref(ERROR)]},
                description="The caller's role does not allow a command (`failed`, `error`: nothing was applied), "
                "or the caller may not write at all (a `read` personal access token).",
            ),
            404: OpenApiResponse(
                BatchFailedSerializer, description="A command names a task or project the caller cannot see."
            ),
            412: OpenApiResponse(
                BatchFailedSerializer,
                description="A command's `if_match` is not the task's current version; `error` is the current task.",
            ),
        },
    )
    def post(self, request):
        serializer = BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            applied = batch_apply(request=request, commands=serializer.validated_data["commands"])
        except CommandFailed as failure:
            # The body the command's endpoint would answer, from the one mapping of errors.
            error = exception_handler(failure.error, {"view": failure.view, "request": request})
            return Response({"failed": failure.index, "error": error.data}, status=error.status_code)
        return Response(
            {
                "results": [{"status": result.status, "data": result.data} for result in applied.results],
                "temp_id_mapping": applied.temp_id_mapping,
            }
        )
