"""The OpenAPI schema as /api/v1/schema/ serves it, built once per test session, and what it says an answer holds:
for the tests that check a view's documented answer against what the view really answers."""

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="session")
def openapi_schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def documented_properties(schema: dict[str, Any], path: str, method: str = "get", status: str = "200") -> set[str]:
    """The members the schema documents in the JSON answer of `method path` with `status` (none: it documents none)."""
    content = schema["paths"][path][method]["responses"][status].get("content", {})
    body = content.get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return set(body.get("properties", {}))
