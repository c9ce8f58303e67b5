"""Serializer fields that take only the JSON type the schema documents for them.

DRF's CharField also takes numbers (`{"name": 7}` becomes "7") and its BooleanField takes "yes"
and 1: the OpenAPI schema says `string` and `boolean`, so any other JSON type is a 400 here.
"""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes JSON `true` and `false` only."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
