"""Admin API routes for webhook endpoints and their delivery log.

HTTP around `webhooks` and the delivery queue: one transaction per change; a test
event or a manual retry is attempted at once, inside the request, and the
answer shows how it went. Secrets appear only at creation, after a rotation
and at GET /api/webhooks/<id>/secret, never in lists.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from syndicator import events
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.models import Channel, Delivery, DeliveryAttempt, WebhookEndpoint
from syndicator.web.api import (
    blueprint,
    encode_cursor,
    json_body,
    listing,
    offset_cursor,
    page_args,
    webhooks_doc,
)
from syndicator.web.context import core_of_app
from syndicator.webhooks import channel, endpoints


def endpoint_dict(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoints.event_filter(endpoint),
        "feeds": endpoints.feed_filter(endpoint),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": events.rfc3339(endpoint.created_at),
        "updated_at": events.rfc3339(endpoint.updated_at),
    }


def _attempt_dict(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "at": events.rfc3339(attempt.attempted_at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response": attempt.response_prefix,
    }


def _message_dicts(core: Core, found: list[Delivery]) -> list[dict[str, Any]]:
    with core.reading() as session:
        attempts = queue.attempts_of(session, [message.id for message in found])
        types = channel.event_types(session, [message.event_id for message in found])
    return [
        {
            "id": message.id,
            "event": types[message.event_id],
            "webhook_id": message.message_key,
            "endpoint_id": message.endpoint_id,
            "status": message.status,
            "created_at": events.rfc3339(message.created_at),
            "next_attempt_at": (
                events.rfc3339(message.next_attempt_at) if message.status == "pending" else None
            ),
            "attempts": [_attempt_dict(attempt) for attempt in attempts[message.id]],
        }
        for message in found
    ]


def _message(core: Core, message_id: int) -> dict[str, Any]:
    with core.reading() as session:
        message = queue.get(session, message_id, Channel.WEBHOOK)
    return _message_dicts(core, [message])[0]


@blueprint.get("/webhooks")
def list_webhooks() -> Response:
    core = core_of_app()
    limit, offset = page_args()
    with core.reading() as session:
        found, has_more = endpoints.page(session, limit=limit, offset=offset)
        items = [endpoint_dict(endpoint) for endpoint in found]
    return listing(items, offset_cursor(limit=limit, offset=offset, has_more=has_more))


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
    return jsonify(secret=secret, previous_secret_expires_at=events.rfc3339(expires))


@blueprint.post("/webhooks/<int:endpoint_id>/test")
def test_webhook(endpoint_id: int) -> Response:
    core = core_of_app()
    return jsonify(_message(core, channel.send_test(core, endpoint_id)))


@blueprint.get("/webhooks/<int:endpoint_id>/deliveries")
def list_deliveries(endpoint_id: int) -> Response:
    core = core_of_app()
    limit, before_id = page_args()  # the cursor is the last id seen
    with core.reading() as session:
        endpoints.get(session, endpoint_id)
        found, has_more = queue.page(
            session, Channel.WEBHOOK, endpoint_id, limit=limit, before_id=before_id or None
        )
    next_cursor = encode_cursor(found[-1].id) if has_more else None
    return listing(_message_dicts(core, found), next_cursor)


@blueprint.post("/deliveries/<int:message_id>/retry")
def retry_delivery(message_id: int) -> Response:
    core = core_of_app()
    channel.retry(core, message_id)
    return jsonify(_message(core, message_id))


webhooks_doc.register()
