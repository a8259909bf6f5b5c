"""Admin API routes for email subscribers: list, add (or import confirmed), get, delete."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from syndicator.errors import InvalidInput
from syndicator.mail import subscriptions
from syndicator.models import Frequency, Subscriber, SubscriberStatus
from syndicator.web.api import blueprint, json_body, listing, offset_cursor, openapi, page_args
from syndicator.web.context import core_of_app

_FIELDS = {"email": str, "feed": str, "frequency": str, "confirmed": bool}


def as_dict(subscriber: Subscriber) -> dict[str, Any]:
    """The API's view of a subscriber: never its tokens."""

    def stamp(value: Any) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "feed": subscriber.feed_slug,
        "frequency": subscriber.frequency,
        "status": subscriber.status,
        "bounce_count": subscriber.bounce_count,
        "created_at": stamp(subscriber.created_at),
        "confirmed_at": stamp(subscriber.confirmed_at),
        "unsubscribed_at": stamp(subscriber.unsubscribed_at),
    }


@blueprint.get("/subscribers")
def list_subscribers() -> Response:
    core = core_of_app()
    limit, offset = page_args()
    with core.reading() as session:
        found = subscriptions.listing(
            session,
            feed=request.args.get("feed"),
            status=request.args.get("status"),
            limit=limit + 1,
            offset=offset,
        )
        items = [as_dict(subscriber) for subscriber in found[:limit]]
    return listing(items, offset_cursor(limit=limit, offset=offset, has_more=len(found) > limit))


def _parse(body: dict[str, Any]) -> tuple[subscriptions.Request, bool]:
    problems = {key: "is not a known field" for key in body if key not in _FIELDS}
    for key, kind in _FIELDS.items():
        if key in body and not isinstance(body[key], kind):
            problems[key] = f"must be a {'boolean' if kind is bool else 'string'}"
    for key in ("email", "feed"):
        if key not in body:
            problems[key] = "is required"
    if problems:
        raise InvalidInput(problems, "invalid subscriber")
    request_ = subscriptions.Request(body["feed"], body["email"], body.get("frequency", "daily"))
    return request_, body.get("confirmed", False)


@blueprint.post("/subscribers")
def create_subscriber() -> tuple[Response, int, dict[str, str]]:
    core = core_of_app()
    request_, confirmed = _parse(json_body())
    with core.transaction() as session:
        subscriber = subscriptions.add(
            session, request_, core.config, core.timezone, core.now(), confirmed=confirmed
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


def _json_of(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def _document() -> None:
    ref = {"$ref": "#/components/schemas/Subscriber"}
    time = {"type": ["string", "null"], "format": "date-time"}
    openapi.SCHEMAS["Subscriber"] = {
        "type": "object",
        "required": ["id", "email", "feed", "frequency", "status", "bounce_count", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string", "format": "email"},
            "feed": {"type": "string"},
            "frequency": {"type": "string", "enum": [f.value for f in Frequency]},
            "status": {"type": "string", "enum": [s.value for s in SubscriberStatus]},
            "bounce_count": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "confirmed_at": time,
            "unsubscribed_at": time,
        },
    }
    openapi.SCHEMAS["SubscriberInput"] = {
        "type": "object",
        "required": ["email", "feed"],
        "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "format": "email"},
            "feed": {"type": "string"},
            "frequency": {
                "type": "string",
                "enum": [f.value for f in Frequency],
                "default": "daily",
            },
            "confirmed": {
                "type": "boolean",
                "default": False,
                "description": "true imports an address that already opted in elsewhere: "
                "no confirmation mail is sent",
            },
        },
    }
    page = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": ref},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    openapi.PATHS["/api/subscribers"] = {
        "get": {
            "summary": "List subscribers, oldest first",
            "parameters": [
                _query("feed", {"type": "string"}, "only this feed's subscribers"),
                _query(
                    "status",
                    {"type": "string", "enum": [s.value for s in SubscriberStatus]},
                    "only this status",
                ),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
                _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
            ],
            "responses": {
                "200": _json_of(page, "A page of subscribers"),
                **openapi.error_responses(401, 403, 422),
            },
        },
        "post": {
            "summary": "Add a subscriber: starts double opt-in, or imports with confirmed: true",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SubscriberInput"}}
                },
            },
            "responses": {
                "201": _json_of(ref, "The subscriber"),
                **openapi.error_responses(400, 401, 403, 404, 409, 413, 415, 422),
            },
        },
    }
    item_parameter = {
        "name": "subscriber_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    openapi.PATHS["/api/subscribers/{subscriber_id}"] = {
        "parameters": [item_parameter],
        "get": {
            "summary": "One subscriber",
            "responses": {
                "200": _json_of(ref, "The subscriber"),
                **openapi.error_responses(401, 403, 404),
            },
        },
        "delete": {
            "summary": "Forget a subscriber and their queued mail",
            "responses": {
                "204": {"description": "Deleted"},
                **openapi.error_responses(401, 403, 404),
            },
        },
    }


_document()
