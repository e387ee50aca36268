"""The OpenAPI schema, exact: every component has a name of its own, and every list says what it answers.

Views here nest their serializers (`CaseListApi.InputSerializer`), and drf-spectacular names a component after the
class alone, so ten endpoints were documented with another endpoint's `InputRequest`. A nested serializer is named
after the classes it is nested in (`CaseListInputRequest`). `make test` builds the schema with warnings as errors.
"""

from drf_spectacular import openapi
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class AutoSchema(openapi.AutoSchema):
    def get_serializer_name(self, serializer, direction):
        qualname = type(serializer).__qualname__
        if "." not in qualname:
            return super().get_serializer_name(serializer, direction)
        return "".join(part.removesuffix("Api").removesuffix("Serializer") for part in qualname.split("."))


def page_of(name: str, item: serializers.BaseSerializer | type[serializers.BaseSerializer]) -> serializers.Serializer:
    """The documented shape of one page of a list: `{"results": [...], "next": url or null}`."""
    child = item() if isinstance(item, type) else item
    return inline_serializer(
        name,
        {
            "results": serializers.ListField(child=child),
            "next": serializers.URLField(allow_null=True, help_text="the next page, or null on the last one"),
        },
    )
