"""Filters, search and ordering of the task list (`GET /api/tasks/`)."""

from datetime import UTC, datetime, time

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

from tasks.models import LABEL_MAX, Priority, Status, Task, TaskLabel

SEARCH_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 10
MAX_ID = 2**63 - 1


def _comma_list(name: str, value: str, allowed: list[str]) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise ValidationError({name: [f"Choose from: {', '.join(allowed)} (comma-separated)."]})
    return items


def _moment(name: str, value: str, *, end_of_day: bool) -> datetime:
    """A UTC datetime from ISO 8601; a bare date means the start (or end) of that day in UTC."""
    try:
        day = parse_date(value)
        if day is not None:
            moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        else:
            moment = parse_datetime(value)
            if moment is not None:
                moment = moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationError({name: ["Enter an ISO 8601 date or date-time."]})
    return moment


class IdField(forms.IntegerField):
    """An id: ASCII digits only (int() would also read Arabic-Indic or full-width digits)."""

    def to_python(self, value):
        if isinstance(value, str) and not value.strip().isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class TaskFilter(django_filters.FilterSet):
    # Every filter names its label and help text: most filter through a method, so django-filter
    # cannot derive them from a model field (the browsable API's form would say "[invalid name]"),
    # and the OpenAPI schema describes each parameter with them.
    project = IdFilter(field_name="project_id", label="Project", help_text="A project id.")
    status = django_filters.CharFilter(
        method="filter_status", label="Status", help_text=f"Comma-separated statuses: {', '.join(Status.values)}."
    )
    priority = django_filters.CharFilter(
        method="filter_priority",
        label="Priority",
        help_text=f"Comma-separated priorities: {', '.join(label for _, label in Priority.choices)}.",
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee", label="Assignee", help_text="A user id, `me` or `none`."
    )
    parent = django_filters.CharFilter(
        method="filter_parent", label="Parent", help_text="A task id (its subtasks), or `none` (top-level tasks)."
    )
    label = django_filters.CharFilter(
        method="filter_label", max_length=LABEL_MAX, label="Label", help_text="Tasks with this label (any case)."
    )
    due_before = django_filters.CharFilter(
        method="filter_due_before", label="Due before", help_text="Inclusive; an ISO 8601 date or date-time."
    )
    due_after = django_filters.CharFilter(
        method="filter_due_after", label="Due after", help_text="Inclusive; an ISO 8601 date or date-time."
    )
    updated_since = django_filters.CharFilter(
        method="filter_updated_since", label="Updated since", help_text="Inclusive; an ISO 8601 date or date-time."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        label="Search",
        help_text="Every word must occur in the title or the description (case-insensitive).",
    )
    ordering = django_filters.OrderingFilter(
        fields=("priority", "due_at", "created_at", "updated_at", "title", "status", "position", "id"),
        label="Ordering",
        help_text="Comma-separated fields, `-` for descending, e.g. `-priority,due_at`.",
    )

    class Meta:
        model = Task
        fields = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status__in=_comma_list(name, value, Status.values))

    def filter_priority(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        names = _comma_list(name, value, [label for _, label in Priority.choices])
        return queryset.filter(priority__in=[Priority[item.upper()] for item in names])

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
            return queryset.filter(assignee_id=int(value))
        raise ValidationError({name: ["Enter a user id, `me` or `none`."]})

    def filter_parent(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value == "none":
            return queryset.filter(parent__isnull=True)
        if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
            return queryset.filter(parent_id=int(value))
        raise ValidationError({name: ["Enter a task id or `none`."]})

    def filter_label(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Exists(TaskLabel.objects.filter(task=OuterRef("pk"), name__iexact=value)))

    def filter_due_before(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(due_at__lte=_moment(name, value, end_of_day=True))

    def filter_due_after(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(due_at__gte=_moment(name, value, end_of_day=False))

    def filter_updated_since(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(updated_at__gte=_moment(name, value, end_of_day=False))

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        words = value.split()
        if len(words) > SEARCH_MAX_WORDS:
            raise ValidationError({name: [f"Search for at most {SEARCH_MAX_WORDS} words."]})
        for word in words:
            queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return queryset

    def get_form_class(self):
        # The form depends only on the declared filters, never on the request: built once per
        # class instead of once per request (labels, translations and fields cost ~2 ms each time).
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    @property
    def qs(self) -> QuerySet:
        # A unique last key keeps pages stable when the chosen ordering has ties.
        queryset = super().qs
        return queryset.order_by(*queryset.query.order_by, "id") if queryset.query.order_by else queryset
