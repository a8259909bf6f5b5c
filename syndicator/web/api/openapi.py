"""The OpenAPI 3.1 document. Each resource module adds its paths and schemas here.

tests/test_openapi.py fails when a route and this document disagree.
"""

from __future__ import annotations

from typing import Any

from syndicator import __version__
from syndicator.models import MAX_ID

PATHS: dict[str, dict[str, Any]] = {
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapiDocument",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
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
    },
}


def id_parameter(name: str) -> dict[str, Any]:
    """A path id: a row id's range (any other number is answered 404)."""
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Response objects for the given error statuses, all with the Error body."""
    descriptions = {
        400: "Malformed request (invalid JSON)",
        401: "Missing or wrong bearer token",
        403: "Admin API disabled: no token configured",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        410: "Gone",
        413: "Body too large",
        415: "Unsupported media type",
        422: "Invalid input",
    }
    return {
        str(status): {
            "description": descriptions[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syndicator admin API",
            "version": __version__,
            "description": "Publish posts and manage webhooks and subscribers.",
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
