"""The OpenAPI schema, exact: every component has a name of its own, and every list says what it answers.

Views here nest their serializers (`CaseListApi.InputSerializer`), and drf-spectacular names a component after the
class alone, so ten endpoints were documented with another endpoint's `InputRequest`. A nested serializer is named
after the classes it is nested in (`CaseListInputRequest`). `make test` builds the schema with warnings as errors.
"""

from drf_spectacular import openapi
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="dotted path of the field, e.g. lines.0.sku")
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; a problem type may add members of its own (e.g. per-line availability)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True, required=False)


# The refusals every operation may answer, besides what the view documents itself: bad input, no or a bad token, a
# role that may not, too many requests, the database unable to take the request (problems.py renders them all).
_EVERY_OPERATION = {
    "400": "The request is invalid (problem details name each field and reason)",
    "401": "No token, or an invalid one",
    "403": "The role may not do this",
    "429": "Too many requests",
    "503": "The database cannot take the request now; retry later",
}
_WITH_PATH_PARAMETERS = {"404": "Not found"}
_WRITES = {"409": "Conflicts with the current state (problem type says which)"}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        refusals = dict(_EVERY_OPERATION)
        if "{" in self.path:
            refusals |= _WITH_PATH_PARAMETERS
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            refusals |= _WRITES
        for code, description in refusals.items():
            if code not in responses:
                response = self._get_response_for_code(ProblemSerializer, code, ["application/problem+json"], direction)
                response["description"] = description
                responses[code] = response
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            # A local wall-clock time ("09:00:00", a send window in the customer's zone): JSON Schema's `time` format
            # demands an offset (RFC 3339), which a local time has not.
            del schema["format"]
            schema["pattern"] = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"
        return schema

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


class VerifiedSessionScheme(SessionScheme):
    """The staff's session (after the second factor where one is due) is documented as the cookie it is."""

    target_class = "backoffice.api.authentication.VerifiedSessionAuthentication"
