"""The webhooks part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from syndicator import events
from syndicator.models import EndpointStatus, MessageStatus
from syndicator.web.api import openapi

_JSON = "application/json"
_TIME = {"type": "string", "format": "date-time"}
_CHANGES = (400, 401, 403, 404, 413, 415, 422)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": _nullable("string"),
        },
    }


_EVENT_NAMES = {"type": "string", "enum": [str(name) for name in events.POST_EVENTS]}
_INPUT = {
    "url": {"type": "string", "format": "uri", "description": "http(s); public addresses only"},
    "events": {"type": "array", "items": _EVENT_NAMES, "description": "Empty: every event."},
    "feeds": {"type": "array", "items": {"type": "string"}, "description": "Empty: every feed."},
    "description": {"type": "string", "maxLength": 1000},
}
_ENDPOINT = {
    "id": {"type": "integer"},
    **_INPUT,
    "status": {"type": "string", "enum": [str(status) for status in EndpointStatus]},
    "disabled_reason": _nullable("string"),
    "created_at": _TIME,
    "updated_at": _TIME,
}
_SECRET = {"type": "string", "pattern": "^whsec_", "description": "Base64 after whsec_."}
_ATTEMPT = {
    "type": "object",
    "properties": {
        "at": _TIME,
        "status_code": _nullable("integer"),
        "duration_ms": {"type": "integer"},
        "error": _nullable("string"),
        "response": {**_nullable("string"), "description": "First 1 KiB of the answer."},
    },
}
_DELIVERY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "event": {"type": "string"},
        "webhook_id": {"type": "string", "description": "The webhook-id header, every retry."},
        "endpoint_id": {"type": "integer"},
        "status": {"type": "string", "enum": [str(status) for status in MessageStatus]},
        "created_at": _TIME,
        "next_attempt_at": {**_nullable("string"), "format": "date-time"},
        "attempts": {"type": "array", "items": _ATTEMPT, "description": "Newest first."},
    },
}


_PAGE = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def _operation(
    summary: str,
    op_id: str,
    ok: tuple[str, dict[str, Any]],
    errors: tuple[int, ...],
    *,
    parameters: list[dict[str, Any]],
    body: str | None = None,
) -> dict[str, Any]:
    status, schema = ok
    answer = {"description": "Deleted"} if status == "204" else _json(schema, summary)
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": op_id,
        "parameters": parameters,
        "responses": {status: answer, **openapi.error_responses(*errors)},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": _ref(body)}}}
    return operation


def paths() -> dict[str, dict[str, Any]]:
    one = [openapi.id_parameter("endpoint_id")]
    read, act = (401, 403, 404), (401, 403, 404, 409)
    endpoint, delivery = ("200", _ref("WebhookEndpoint")), ("200", _ref("WebhookDelivery"))
    return {
        "/api/webhooks": {
            "get": _operation(
                "List webhook endpoints", "listWebhooks",
                ("200", _list_of("WebhookEndpoint")), (401, 403, 422), parameters=_PAGE,
            ),
            "post": _operation(
                "Register an endpoint; the answer holds its secret", "createWebhook",
                ("201", _ref("WebhookEndpointWithSecret")), _CHANGES,
                parameters=[], body="WebhookEndpointCreate",
            ),
        },
        "/api/webhooks/{endpoint_id}": {
            "get": _operation("Get an endpoint", "getWebhook", endpoint, read, parameters=one),
            "patch": _operation(
                "Change an endpoint; status active re-enables it", "patchWebhook",
                endpoint, _CHANGES, parameters=one, body="WebhookEndpointPatch",
            ),
            "delete": _operation(
                "Delete an endpoint and its log", "deleteWebhook", ("204", {}), read,
                parameters=one,
            ),
        },
        "/api/webhooks/{endpoint_id}/secret": {
            "get": _operation(
                "The signing secret", "getWebhookSecret", ("200", _SECRET_ANSWER), read,
                parameters=one,
            ),
        },
        "/api/webhooks/{endpoint_id}/rotate-secret": {
            "post": _operation(
                "New secret; the old one signs too for 24 hours", "rotateWebhookSecret",
                ("200", _ROTATED), read, parameters=one,
            ),
        },
        "/api/webhooks/{endpoint_id}/test": {
            "post": _operation(
                "Send a webhook.test event now", "testWebhook", delivery, act, parameters=one
            ),
        },
        "/api/webhooks/{endpoint_id}/deliveries": {
            "get": _operation(
                "The endpoint's messages and their attempts, newest first",
                "listWebhookDeliveries", ("200", _list_of("WebhookDelivery")),
                (401, 403, 404, 422), parameters=[*one, *_PAGE],
            ),
        },
        "/api/deliveries/{message_id}/retry": {
            "post": _operation(
                "Send a message again now, with a fresh retry schedule", "retryDelivery",
                delivery, act, parameters=[openapi.id_parameter("message_id")],
            ),
        },
    }  # fmt: skip


_SECRET_ANSWER = {
    "type": "object",
    "properties": {"secret": _SECRET, "signing": {"type": "array", "items": _SECRET}},
}
_ROTATED = {
    "type": "object",
    "properties": {"secret": _SECRET, "previous_secret_expires_at": _TIME},
}


def register() -> None:
    openapi.SCHEMAS["WebhookEndpoint"] = {"type": "object", "properties": _ENDPOINT}
    openapi.SCHEMAS["WebhookEndpointWithSecret"] = {
        "type": "object",
        "properties": {**_ENDPOINT, "secret": _SECRET},
    }
    openapi.SCHEMAS["WebhookEndpointCreate"] = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {**_INPUT, "status": _ENDPOINT["status"]},
    }
    openapi.SCHEMAS["WebhookEndpointPatch"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_INPUT, "status": _ENDPOINT["status"]},
    }
    openapi.SCHEMAS["WebhookDelivery"] = _DELIVERY
    openapi.PATHS.update(paths())
