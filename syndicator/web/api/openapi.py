"""The OpenAPI 3.1 document, assembled per request from each resource's `Section`.

Schemas come from the resources' field tables (`fieldtable.Table`), so the
document and the checks agree by construction; operations are one short
declaration per route. tests/test_openapi.py fails when a route and this
document disagree, and tests/test_api_fuzz.py holds the API to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from syndicator import __version__
from syndicator.models import MAX_ID

JSON = "application/json"
READ_ERRORS = (401, 403, 404)
CHANGE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422)
LIST_ERRORS = (400, 401, 403, 422)  # 400: a cursor this API did not give out
MAX_LIMIT = 100
_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, or a cursor this API did not give out)",
    401: "Missing or wrong bearer token",
    403: "Admin API disabled: no token configured",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
_PATH_VARIABLE = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Operation:
    """One route: `answer` is (status, schema); no schema for 204."""

    method: str
    path: str
    op_id: str
    summary: str
    answer: tuple[int, dict[str, Any] | None]
    errors: tuple[int, ...]
    body: dict[str, Any] | None = None
    query: tuple[dict[str, Any], ...] = ()
    public: bool = False
    media_type: str = JSON  # of the answer
    # A body that is not JSON: its schema per media type (file uploads).
    body_types: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True)
class Section:
    """A resource's part of the document."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: tuple[Operation, ...] = ()


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def list_of(item: dict[str, Any]) -> dict[str, Any]:
    """The list shape every list route answers."""
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as ?cursor= for the next page; null on the last.",
            },
        },
    }


PAGE_QUERY = (
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "Page size."),
    query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
)


def _path_parameter(name: str) -> dict[str, Any]:
    # A path id has a row id's range (any other number is answered 404).
    schema = (
        {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        if name.endswith("_id")
        else {"type": "string"}
    )
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _error_responses(statuses: Iterable[int]) -> dict[str, Any]:
    return {
        str(status): {
            "description": _DESCRIPTIONS[status],
            "content": {JSON: {"schema": ref("Error")}},
        }
        for status in statuses
    }


def _operation(operation: Operation) -> dict[str, Any]:
    status, schema = operation.answer
    answer: dict[str, Any] = {"description": operation.summary}
    if schema is not None:
        answer["content"] = {operation.media_type: {"schema": schema}}
    if status == 201:
        answer["headers"] = {"Location": {"schema": {"type": "string"}}}
    variables = _PATH_VARIABLE.findall(operation.path)
    described: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": operation.op_id,
        "parameters": [_path_parameter(name) for name in variables] + list(operation.query),
        "responses": {str(status): answer, **_error_responses(operation.errors)},
    }
    if operation.body is not None:
        described["requestBody"] = {"required": True, "content": {JSON: {"schema": operation.body}}}
    if operation.body_types is not None:
        content = {kind: {"schema": schema} for kind, schema in operation.body_types.items()}
        described["requestBody"] = {"required": True, "content": content}
    if operation.public:
        described["security"] = []
    return described


def document(base_url: str, sections: Iterable[Section]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, dict[str, Any]] = {"Error": _ERROR}
    for section in sections:
        schemas.update(section.schemas)
        for operation in section.operations:
            paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syndicator admin API",
            "version": __version__,
            "description": "Publish posts and manage webhooks and subscribers.",
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


SELF = Section(
    operations=(
        Operation(
            "get",
            "/api/openapi.json",
            "openapiDocument",
            "This document",
            (200, {"type": "object"}),
            (),
            public=True,
        ),
    )
)
