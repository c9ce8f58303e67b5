"""Input and output shapes of webhook endpoints and their deliveries."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from realtime.models import EventType
from taskflow.fields import StrictCharField
from webhooks.models import SECRET_MAX, SECRET_MIN, URL_MAX, DeliveryStatus, WebhookDelivery, WebhookEndpoint


# Named schema components: the choice sets appear under several field names (and `status` is also
# a task's), so the generated names would be ambiguous.
@extend_schema_field({"type": "string", "enum": EventType.values}, component_name="EventType")
class EventTypeField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=EventType.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": DeliveryStatus.values}, component_name="DeliveryStatus")
class DeliveryStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=DeliveryStatus.choices, **kwargs)


class WebhookSerializer(serializers.ModelSerializer):
    url = StrictCharField(max_length=URL_MAX, help_text="http:// or https:// URL that receives the POSTs.")
    event_types = serializers.ListField(
        child=EventTypeField(),
        allow_empty=False,
        required=False,
        help_text="The event types to receive (default: all of them).",
    )
    secret = StrictCharField(
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        write_only=True,
        required=False,
        help_text="Key of the HMAC-SHA256 signature; generated when omitted, and shown only in the create response.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "event_types", "is_active", "created_at", "updated_at", "last_seq", "secret"]
        read_only_fields = ["id", "created_at", "updated_at", "last_seq"]
        extra_kwargs = {"last_seq": {"help_text": "The project's event seq up to which deliveries were created."}}


class WebhookCreatedSerializer(WebhookSerializer):
    """The create response: the endpoint with its secret, which is never shown again."""

    secret = serializers.CharField(read_only=True, help_text="Keep it: it is not shown again.")


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery as the log lists it."""

    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    event_type = EventTypeField(read_only=True)
    status = DeliveryStatusField(read_only=True)
    redelivery_of = serializers.UUIDField(source="redelivery_of_id", read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "seq",
            "event_type",
            "status",
            "attempts",
            "response_status",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "redelivery_of",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    """A delivery with what was sent and what came back."""

    payload = serializers.JSONField(read_only=True, help_text="The JSON body sent.")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "response_body", "error"]
        read_only_fields = fields
