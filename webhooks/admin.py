"""Operator views of webhook endpoints and their delivery logs.

Endpoints are created by project admins through the API, which is where the signing secret is shown
(once); here an operator can review, change, switch off or delete them, never read their secrets.
Changes go through the services, like the API's. Deliveries are history: read-only, with a
"Redeliver" action that sends an event again as a new delivery.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from realtime.models import EventType
from taskflow.admin_pages import HistoryAdmin
from taskflow.errors import ApplicationError
from webhooks import services
from webhooks.addresses import url_validate
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


class WebhookEndpointAdminForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "event_types", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url == self.instance.url:
            return url  # checked when it was set, and again before every attempt
        try:
            url_validate(url)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ["url", "project", "is_active", "last_seq", "pending", "failed", "succeeded", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["url", "project__name"]
    list_select_related = ["project"]
    fields = [
        "project",
        "url",
        "event_types",
        "is_active",
        "last_seq",
        "deliveries",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["project", "last_seq", "deliveries", "created_by", "created_at", "updated_at"]

    def get_queryset(self, request):
        counts = {
            f"{status}_count": Count("deliveries", filter=Q(deliveries__status=status))
            for status in DeliveryStatus.values
        }
        return super().get_queryset(request).annotate(**counts)

    def has_add_permission(self, request):
        # Created through the API, the only place the new endpoint's secret is shown.
        return False

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj):
        return obj.pending_count

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, obj):
        return obj.failed_count

    @admin.display(description="succeeded", ordering="succeeded_count")
    def succeeded(self, obj):
        return obj.succeeded_count

    @admin.display(description="deliveries")
    def deliveries(self, obj):
        url = reverse("admin:webhooks_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">View the delivery log</a>', url, obj.pk)

    def save_model(self, request, obj, form, change):
        services.endpoint_update(
            endpoint=WebhookEndpoint.objects.get(pk=obj.pk),
            actor=request.user,
            data={name: form.cleaned_data[name] for name in form.changed_data},
            operator=True,
        )

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj, actor=request.user, operator=True)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint, actor=request.user, operator=True)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(HistoryAdmin):
    list_display = ["event_type", "seq", "endpoint", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["endpoint__url", "endpoint__project__name"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "endpoint",
        "seq",
        "event_type",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "response_status",
        "response_body",
        "error",
        "payload_json",
        "redelivery_of",
    ]
    readonly_fields = fields
    actions = ["redeliver"]

    def has_redeliver_permission(self, request):
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.display(description="payload")
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False))

    @admin.action(description="Redeliver the selected deliveries (as new deliveries, now)", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint__project"):
            try:
                services.delivery_redeliver(delivery=delivery, actor=request.user, operator=True)
            except ApplicationError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} redelivery(ies) queued.", messages.SUCCESS)
