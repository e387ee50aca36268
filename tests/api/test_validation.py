"""validated_input(): the validated data and the 400 body of a serializer built per request, without building one."""

import pytest
from rest_framework import serializers

from backoffice.api.validation import validated_input


class LineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=8)
    quantity = serializers.IntegerField(min_value=1)


class OrderInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=("web", "app"))
    lines = LineInput(many=True, allow_empty=False)


def _errors_the_usual_way(data):
    payload = OrderInput(data=data)
    assert not payload.is_valid()
    return payload.errors


def test_valid_input_gives_what_is_valid_gives():
    data = {"channel": "web", "lines": [{"sku": "A", "quantity": "2"}]}
    payload = OrderInput(data=data)
    assert payload.is_valid()

    assert validated_input(OrderInput, data) == payload.validated_data
    assert validated_input(OrderInput, data)["lines"][0]["quantity"] == 2


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "fax", "lines": []},
        {"channel": "web", "lines": [{"sku": "TOO-LONG-SKU", "quantity": 0}]},
        {},
        None,
        ["not", "an", "object"],
    ],
)
def test_refused_input_raises_exactly_the_errors_is_valid_gives(data):
    with pytest.raises(serializers.ValidationError) as refused:
        validated_input(OrderInput, data)

    assert refused.value.detail == _errors_the_usual_way(data)


def test_one_request_refused_does_not_leak_into_the_next():
    with pytest.raises(serializers.ValidationError):
        validated_input(OrderInput, {"channel": "fax"})

    assert validated_input(OrderInput, {"channel": "app", "lines": [{"sku": "B", "quantity": 1}]})["channel"] == "app"
