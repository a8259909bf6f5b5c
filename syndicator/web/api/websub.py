"""Admin API routes for WebSub subscriptions and their delivery log.

Subscriptions are made by subscribers through the hub (POST /websub); the
admin lists them, looks at each one's verifications and notifications, and
removes them. A removed subscription's callback is not asked.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from syndicator import timestamps
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import Channel, Delivery, DeliveryAttempt, MessageStatus, WebSubStatus
from syndicator.web.api import attempts, blueprint, listing, openapi, window
from syndicator.web.api.openapi import READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app
from syndicator.websub import subscriptions
from syndicator.websub.distribution import NOTIFY_PREFIX

TABLE = Table(
    "a WebSub subscription",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field("topic", Kind.URL, "The feed URL subscribed to.", read_only=True),
        Field("callback", Kind.URL, "Where notifications go.", read_only=True),
        Field(
            "status",
            Kind.CHOICE,
            "pending until the callback confirms; expired once the lease ended.",
            choices=tuple(WebSubStatus),
            read_only=True,
        ),
        Field("lease_expires_at", Kind.TIMESTAMP, nullable=True, read_only=True),
        Field("signed", Kind.BOOLEAN, "Notifications carry X-Hub-Signature.", read_only=True),
        Field("created_at", Kind.TIMESTAMP, read_only=True),
        Field("updated_at", Kind.TIMESTAMP, read_only=True),
        Field(
            "last_attempt",
            Kind.RECORDS,
            "The newest contact with the callback (none or one).",
            records=attempts.ATTEMPT,
            read_only=True,
        ),
    ),
)
DELIVERY = Table(
    "a WebSub delivery",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field(
            "kind",
            Kind.CHOICE,
            "verification (GET) or notification (POST).",
            choices=("verification", "notification"),
            read_only=True,
        ),
        Field("subscription_id", Kind.INTEGER, read_only=True),
        Field("status", Kind.CHOICE, choices=(*MessageStatus, "skipped"), read_only=True),
        *attempts.STATE,
    ),
)


def as_dict(row: Any, last: DeliveryAttempt | None, core: Core) -> dict[str, Any]:
    return {
        "id": row.id,
        "topic": row.topic,
        "callback": row.callback,
        "status": subscriptions.status_of(row, core.now()),
        "lease_expires_at": timestamps.rfc3339_or_none(row.lease_expires_at),
        "signed": row.secret is not None,
        "created_at": timestamps.rfc3339(row.created_at),
        "updated_at": timestamps.rfc3339(row.updated_at),
        "last_attempt": [] if last is None else [attempts.attempt_dict(last)],
    }


def message_dicts(core: Core, found: list[Delivery]) -> list[dict[str, Any]]:
    return attempts.log_dicts(
        core,
        found,
        lambda message: {
            "id": message.id,
            "kind": (
                "notification" if message.message_key.startswith(NOTIFY_PREFIX) else "verification"
            ),
            "subscription_id": message.websub_subscription_id,
            "status": message.status,
        },
    )


@blueprint.get("/websub/subscriptions")
def list_websub_subscriptions() -> Response:
    core = core_of_app()
    asked = window()
    with core.reading() as session:
        found, next_cursor = subscriptions.page(session, asked)
        last = queue.last_attempts(session, Channel.WEBSUB, [row.id for row in found])
        items = [as_dict(row, last.get(row.id), core) for row in found]
    return listing(items, next_cursor)


@blueprint.get("/websub/subscriptions/<int:subscription_id>")
def get_websub_subscription(subscription_id: int) -> Response:
    core = core_of_app()
    with core.reading() as session:
        row = subscriptions.get(session, subscription_id)
        last = queue.last_attempts(session, Channel.WEBSUB, [row.id])
        return jsonify(as_dict(row, last.get(row.id), core))


@blueprint.delete("/websub/subscriptions/<int:subscription_id>")
def delete_websub_subscription(subscription_id: int) -> tuple[str, int]:
    with core_of_app().transaction() as session:
        subscriptions.remove(session, subscriptions.get(session, subscription_id))
    return "", 204


@blueprint.get("/websub/subscriptions/<int:subscription_id>/deliveries")
def list_websub_deliveries(subscription_id: int) -> Response:
    core = core_of_app()
    return attempts.log_page(
        core, Channel.WEBSUB, subscription_id, subscriptions.get, message_dicts
    )


_ONE = "/api/websub/subscriptions/{subscription_id}"
DOC = openapi.Section(
    schemas={
        "WebSubSubscription": TABLE.output_schema(),
        "WebSubDelivery": DELIVERY.output_schema(),
    },
    operations=(
        Operation(
            "get", "/api/websub/subscriptions", "listWebSubSubscriptions",
            "List WebSub subscriptions, oldest first",
            (200, openapi.list_of(ref("WebSubSubscription"))), openapi.LIST_ERRORS,
            query=openapi.PAGE_QUERY,
        ),
        Operation(
            "get", _ONE, "getWebSubSubscription", "One WebSub subscription",
            (200, ref("WebSubSubscription")), READ_ERRORS,
        ),
        Operation(
            "delete", _ONE, "deleteWebSubSubscription",
            "Remove a subscription and its log; the callback is not asked", (204, None),
            READ_ERRORS,
        ),
        Operation(
            "get", f"{_ONE}/deliveries", "listWebSubDeliveries",
            "The subscription's verifications and notifications with their attempts, newest first",
            (200, openapi.list_of(ref("WebSubDelivery"))), (*openapi.LIST_ERRORS, 404),
            query=openapi.PAGE_QUERY,
        ),
    ),
)  # fmt: skip
