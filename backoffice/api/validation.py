"""Input validation for API request bodies without building a serializer per request (the views of customers,
orders and campaigns: one call instead of build, is_valid, validated_data in each).

A DRF serializer deep-copies its declared fields for every instance (nested serializers included), which costs
more than the validation itself: 0.23 ms against 0.045 ms for an order's body. Validation through
`run_validation` keeps no state on the instance, so one bound instance per serializer class serves every request
(serializers without context: none of these reads the request).
Refused input is validated again by a fresh serializer, so the 400 body is exactly is_valid()'s.
"""

from functools import cache

from rest_framework import serializers


@cache
def _instance(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    return serializer_class()


def validated_input(serializer_class: type[serializers.Serializer], data) -> dict:
    """`data` validated by the serializer (plain fields, no context): its validated_data, or ValidationError."""
    try:
        return _instance(serializer_class).run_validation(data)
    except serializers.ValidationError:
        pass
    # Refused: validated again the usual way, so the errors are exactly is_valid()'s (which reshapes a few).
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data  # not reached: what failed once fails again
