"""Admin API routes for webhook endpoints and their delivery log.

HTTP around `webhooks` and the delivery queue: one transaction per change; a test
event or a manual retry is attempted at once, inside the request, and the
answer shows how it went. Secrets appear only at creation, after a rotation
and at GET /api/webhooks/<id>/secret, never in lists.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from syndicator import timestamps
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import Channel, Delivery, MessageStatus, WebhookEndpoint
from syndicator.web.api import attempts, blueprint, json_body, listing, openapi, window
from syndicator.web.api.openapi import READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app
from syndicator.webhooks import channel, endpoints

DELIVERY = Table(
    "a delivery",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field("event", Kind.TEXT, read_only=True),
        Field("webhook_id", Kind.TEXT, "The webhook-id header, every retry.", read_only=True),
        Field("endpoint_id", Kind.INTEGER, read_only=True),
        Field("status", Kind.CHOICE, choices=tuple(MessageStatus), read_only=True),
        *attempts.STATE,
    ),
)
SECRETS = Table(
    "signing secrets",
    (
        Field("secret", Kind.TEXT, "`whsec_` and base64: signs every message.", read_only=True),
        Field("signing", Kind.TEXT_LIST, "Every secret that signs now.", read_only=True),
    ),
)
ROTATED = Table(
    "a rotated secret",
    (
        Field("secret", Kind.TEXT, "The new secret.", read_only=True),
        Field(
            "previous_secret_expires_at",
            Kind.TIMESTAMP,
            "Until then the old secret signs too.",
            read_only=True,
        ),
    ),
)


def endpoint_dict(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoints.event_filter(endpoint),
        "feeds": endpoints.feed_filter(endpoint),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": timestamps.rfc3339(endpoint.created_at),
        "updated_at": timestamps.rfc3339(endpoint.updated_at),
    }


def _message_dicts(core: Core, found: list[Delivery]) -> list[dict[str, Any]]:
    with core.reading() as session:
        types = channel.event_types(session, [message.event_id for message in found])
    return attempts.log_dicts(
        core,
        found,
        lambda message: {
            "id": message.id,
            "event": types[message.event_id],
            "webhook_id": message.message_key,
            "endpoint_id": message.endpoint_id,
            "status": message.status,
        },
    )


def message_dict(core: Core, message_id: int) -> dict[str, Any]:
    with core.reading() as session:
        message = queue.get(session, message_id, Channel.WEBHOOK)
    return _message_dicts(core, [message])[0]


@blueprint.get("/webhooks")
def list_webhooks() -> Response:
    core = core_of_app()
    asked = window()
    with core.reading() as session:
        found, next_cursor = endpoints.page(session, asked)
        items = [endpoint_dict(endpoint) for endpoint in found]
    return listing(items, next_cursor)


@blueprint.post("/webhooks")
def create_webhook() -> tuple[Response, int, dict[str, str]]:
    core = core_of_app()
    fields = json_body()
    with core.transaction() as session:
        endpoint = endpoints.create(
            session,
            fields,
            now=core.now(),
            allow_private=core.config.webhooks.allow_private_targets,
            resolver=core.resolver,
        )
        body = {**endpoint_dict(endpoint), "secret": endpoint.secret}
    location = url_for("api.get_webhook", endpoint_id=body["id"])
    return jsonify(body), 201, {"Location": location}


@blueprint.get("/webhooks/<int:endpoint_id>")
def get_webhook(endpoint_id: int) -> Response:
    with core_of_app().reading() as session:
        return jsonify(endpoint_dict(endpoints.get(session, endpoint_id)))


@blueprint.patch("/webhooks/<int:endpoint_id>")
def patch_webhook(endpoint_id: int) -> Response:
    core = core_of_app()
    fields = json_body()
    with core.transaction() as session:
        endpoint = endpoints.update(
            session,
            endpoints.get(session, endpoint_id),
            fields,
            now=core.now(),
            allow_private=core.config.webhooks.allow_private_targets,
            resolver=core.resolver,
        )
        return jsonify(endpoint_dict(endpoint))


@blueprint.delete("/webhooks/<int:endpoint_id>")
def delete_webhook(endpoint_id: int) -> tuple[str, int]:
    with core_of_app().transaction() as session:
        endpoints.remove(session, endpoints.get(session, endpoint_id))
    return "", 204


@blueprint.get("/webhooks/<int:endpoint_id>/secret")
def get_webhook_secret(endpoint_id: int) -> Response:
    core = core_of_app()
    with core.reading() as session:
        endpoint = endpoints.get(session, endpoint_id)
        return jsonify(
            secret=endpoint.secret, signing=endpoints.signing_secrets(endpoint, core.now())
        )


@blueprint.post("/webhooks/<int:endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id: int) -> Response:
    core = core_of_app()
    with core.transaction() as session:
        endpoint = endpoints.get(session, endpoint_id)
        secret = endpoints.rotate_secret(endpoint, core.now())
        expires = endpoint.previous_secret_expires_at
        assert expires is not None
    return jsonify(secret=secret, previous_secret_expires_at=timestamps.rfc3339(expires))


@blueprint.post("/webhooks/<int:endpoint_id>/test")
def test_webhook(endpoint_id: int) -> Response:
    core = core_of_app()
    return jsonify(message_dict(core, channel.send_test(core, endpoint_id)))


@blueprint.get("/webhooks/<int:endpoint_id>/deliveries")
def list_deliveries(endpoint_id: int) -> Response:
    core = core_of_app()
    return attempts.log_page(core, Channel.WEBHOOK, endpoint_id, endpoints.get, _message_dicts)


_ONE = "/api/webhooks/{endpoint_id}"
_ACT_ERRORS = (*READ_ERRORS, 409)
DOC = openapi.Section(
    schemas={
        "WebhookEndpoint": endpoints.TABLE.output_schema(),
        "WebhookEndpointCreate": endpoints.TABLE.input_schema(creating=True),
        "WebhookEndpointPatch": endpoints.TABLE.input_schema(creating=False),
        "WebhookDelivery": DELIVERY.output_schema(),
    },
    operations=(
        Operation(
            "get", "/api/webhooks", "listWebhooks", "List webhook endpoints, oldest first",
            (200, openapi.list_of(ref("WebhookEndpoint"))), openapi.LIST_ERRORS,
            query=openapi.PAGE_QUERY,
        ),
        Operation(
            "post", "/api/webhooks", "createWebhook",
            "Register an endpoint; the answer holds its secret",
            (201, ref("WebhookEndpoint")), openapi.CHANGE_ERRORS,
            body=ref("WebhookEndpointCreate"),
        ),
        Operation(
            "get", _ONE, "getWebhook", "Get an endpoint", (200, ref("WebhookEndpoint")),
            READ_ERRORS,
        ),
        Operation(
            "patch", _ONE, "patchWebhook", "Change an endpoint; status active re-enables it",
            (200, ref("WebhookEndpoint")), openapi.CHANGE_ERRORS,
            body=ref("WebhookEndpointPatch"),
        ),
        Operation(
            "delete", _ONE, "deleteWebhook", "Delete an endpoint and its log", (204, None),
            READ_ERRORS,
        ),
        Operation(
            "get", f"{_ONE}/secret", "getWebhookSecret", "The signing secrets",
            (200, SECRETS.output_schema()), READ_ERRORS,
        ),
        Operation(
            "post", f"{_ONE}/rotate-secret", "rotateWebhookSecret",
            "New secret; the old one signs too for 24 hours",
            (200, ROTATED.output_schema()), READ_ERRORS,
        ),
        Operation(
            "post", f"{_ONE}/test", "testWebhook", "Send a webhook.test event now",
            (200, ref("WebhookDelivery")), _ACT_ERRORS,
        ),
        Operation(
            "get", f"{_ONE}/deliveries", "listWebhookDeliveries",
            "The endpoint's messages and their attempts, newest first",
            (200, openapi.list_of(ref("WebhookDelivery"))), (*openapi.LIST_ERRORS, 404),
            query=openapi.PAGE_QUERY,
        ),
    ),
)  # fmt: skip
