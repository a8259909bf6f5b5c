"""Admin API routes for email subscribers: list, add (or import confirmed), get, delete.

The field table lives here: only this API takes a subscriber as a JSON body
(the address and the feed are checked again by `subscriptions.add`, which the
CLI and the public form share).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from syndicator import timestamps
from syndicator.fieldtable import Field, Kind, Table
from syndicator.mail import subscriptions
from syndicator.models import Frequency, Subscriber, SubscriberStatus
from syndicator.web.api import blueprint, json_body, listing, openapi, window
from syndicator.web.api.openapi import CHANGE_ERRORS, LIST_ERRORS, READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app

TABLE = Table(
    "a subscriber",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field("email", Kind.EMAIL, "The address.", required=True),
        Field("feed", Kind.TEXT, "The feed whose digests it gets.", required=True),
        Field(
            "frequency",
            Kind.CHOICE,
            "How often digests are sent.",
            choices=tuple(Frequency),
            default=Frequency.DAILY.value,
        ),
        Field(
            "confirmed",
            Kind.BOOLEAN,
            "true imports an address that already opted in elsewhere: no confirmation mail.",
            default=False,
            write_only=True,
        ),
        Field("status", Kind.CHOICE, choices=tuple(SubscriberStatus), read_only=True),
        Field("bounce_count", Kind.INTEGER, read_only=True),
        Field("created_at", Kind.TIMESTAMP, read_only=True),
        Field("confirmed_at", Kind.TIMESTAMP, nullable=True, read_only=True),
        Field("unsubscribed_at", Kind.TIMESTAMP, nullable=True, read_only=True),
    ),
)


def as_dict(subscriber: Subscriber) -> dict[str, Any]:
    """The API's view of a subscriber: never its tokens."""
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "feed": subscriber.feed_slug,
        "frequency": subscriber.frequency,
        "status": subscriber.status,
        "bounce_count": subscriber.bounce_count,
        "created_at": timestamps.rfc3339(subscriber.created_at),
        "confirmed_at": timestamps.rfc3339_or_none(subscriber.confirmed_at),
        "unsubscribed_at": timestamps.rfc3339_or_none(subscriber.unsubscribed_at),
    }


@blueprint.get("/subscribers")
def list_subscribers() -> Response:
    core = core_of_app()
    asked = window()
    with core.reading() as session:
        found, next_cursor = subscriptions.page(
            session, asked, feed=request.args.get("feed"), status=request.args.get("status")
        )
        items = [as_dict(subscriber) for subscriber in found]
    return listing(items, next_cursor)


@blueprint.post("/subscribers")
def create_subscriber() -> tuple[Response, int, dict[str, str]]:
    core = core_of_app()
    fields = TABLE.parse(json_body(), creating=True)
    request_ = subscriptions.Request(
        fields["feed"], fields["email"], fields.get("frequency", Frequency.DAILY)
    )
    with core.transaction() as session:
        subscriber = subscriptions.add(
            session,
            request_,
            core.config,
            core.timezone,
            core.now(),
            confirmed=fields.get("confirmed", False),
        )
        body = as_dict(subscriber)
    location = url_for("api.get_subscriber", subscriber_id=body["id"])
    return jsonify(body), 201, {"Location": location}


@blueprint.get("/subscribers/<int:subscriber_id>")
def get_subscriber(subscriber_id: int) -> Response:
    with core_of_app().reading() as session:
        return jsonify(as_dict(subscriptions.get(session, subscriber_id)))


@blueprint.delete("/subscribers/<int:subscriber_id>")
def delete_subscriber(subscriber_id: int) -> tuple[str, int]:
    with core_of_app().transaction() as session:
        subscriptions.remove(session, subscriptions.get(session, subscriber_id))
    return "", 204


_FILTERS = (
    openapi.query("feed", {"type": "string"}, "Only this feed's subscribers."),
    openapi.query(
        "status", {"type": "string", "enum": list(SubscriberStatus)}, "Only this status."
    ),
)
_ONE = "/api/subscribers/{subscriber_id}"
DOC = openapi.Section(
    schemas={
        "Subscriber": TABLE.output_schema(),
        "SubscriberCreate": TABLE.input_schema(creating=True),
    },
    operations=(
        Operation(
            "get", "/api/subscribers", "listSubscribers", "List subscribers, oldest first",
            (200, openapi.list_of(ref("Subscriber"))), LIST_ERRORS,
            query=(*_FILTERS, *openapi.PAGE_QUERY),
        ),
        Operation(
            "post", "/api/subscribers", "createSubscriber",
            "Add a subscriber: starts double opt-in, or imports with confirmed: true",
            (201, ref("Subscriber")), CHANGE_ERRORS, body=ref("SubscriberCreate"),
        ),
        Operation(
            "get", _ONE, "getSubscriber", "One subscriber", (200, ref("Subscriber")), READ_ERRORS
        ),
        Operation(
            "delete", _ONE, "deleteSubscriber", "Forget a subscriber and their queued mail",
            (204, None), READ_ERRORS,
        ),
    ),
)  # fmt: skip
