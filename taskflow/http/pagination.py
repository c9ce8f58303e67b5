"""Page-number pagination that answers `{next, previous, results}` without counting rows."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, _positive_int
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class PagePagination(BasePagination):
    """`?page=N&page_size=M`: 50 a page by default; larger sizes are capped at 200, not refused,
    and anything but a positive integer is a 400.

    One extra row is fetched to know whether a next page exists, so no COUNT query is run.
    """

    page_size = 50
    max_page_size = 200
    page_query_param = "page"
    page_size_query_param = "page_size"
    # Beyond this an offset would overflow some databases' integers; no real listing is that long.
    max_page_number = 10_000_000

    def paginate_queryset(self, queryset, request, view=None):
        self.read_request(request)
        offset = (self.page_number - 1) * self.page_size_now
        rows = list(queryset[offset : offset + self.page_size_now + 1])
        self.has_next = len(rows) > self.page_size_now
        return rows[: self.page_size_now]

    def read_request(self, request, *, has_next: bool | None = None) -> None:
        """Take the page number and size from the request (404 for an invalid page).

        A page served from a cache passes `has_next` instead of querying rows.
        """
        self.request = request
        self.page_size_now = self.get_page_size(request)
        try:
            self.page_number = _positive_int(request.query_params.get(self.page_query_param, 1), strict=True)
        except ValueError:
            raise NotFound("Invalid page.") from None
        if self.page_number > self.max_page_number:
            raise NotFound("Invalid page.")
        if has_next is not None:
            self.has_next = has_next

    def get_page_size(self, request) -> int:
        """The `page_size` asked for, capped at `max_page_size`; 400 unless it is a positive integer."""
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        try:
            # ASCII digits only: int() also reads other scripts' digits, which are no page size.
            if not value.strip().isascii():
                raise ValueError(value)
            return _positive_int(value, strict=True, cutoff=self.max_page_size)
        except ValueError:
            raise ValidationError({self.page_size_query_param: ["A positive integer is required."]}) from None

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.page_number + 1)

    def get_previous_link(self) -> str | None:
        if self.page_number == 1:
            return None
        url = self.request.build_absolute_uri()
        if self.page_number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page_number - 1)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "The page, from 1: a page past the last one is empty; one that is no page number, 404.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_number},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page (default {self.page_size}); larger sizes are taken as {self.max_page_size}."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
