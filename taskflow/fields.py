"""Serializer fields that take only the JSON type the schema documents for them.

DRF's CharField also takes numbers (`{"name": 7}` becomes "7"): the OpenAPI schema says
`string`, so a number is a 400 here, as any other value of the wrong type is.
"""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
