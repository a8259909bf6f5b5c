"""The admin API: JSON over `Authorization: Bearer <admin token>`.

Conventions every resource module follows (posts, webhooks, subscribers):
routes on `blueprint`, bodies read with `json_body()`, lists answered with
`listing()`, errors raised as domain errors (web.errors turns them into the
one JSON error shape), and each route described in `openapi.PATHS`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from syndicator.errors import InvalidInput
from syndicator.web.context import core_of_app
from syndicator.web.errors import api_error

blueprint = Blueprint("api", __name__, url_prefix="/api")

PUBLIC_ENDPOINTS = {"api.openapi_document"}
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
_MAX_DEPTH = 32


@blueprint.before_request
def _authenticate() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = core_of_app().config.admin.token
    if not token:
        return api_error(
            403,
            "admin_disabled",
            "the admin API is off: set [admin] token in the config file "
            "or the SYNDICATOR_ADMIN_TOKEN environment variable",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    valid = hmac.compare_digest(given.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not valid:
        return api_error(401, "unauthorized", "missing or wrong bearer token")
    return None


def json_body() -> dict[str, Any]:
    """The request's JSON object; 413, 415, 400 or 422 for anything else."""
    limit = core_of_app().config.admin.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"}, "the body must be a JSON object")
    if _depth(data) > _MAX_DEPTH:
        raise InvalidInput({"body": f"nested deeper than {_MAX_DEPTH} levels"}, "body too deep")
    return data


def _depth(value: Any, level: int = 1) -> int:
    if level > _MAX_DEPTH:
        return level
    if isinstance(value, dict):
        value = list(value.values())
    children: Sequence[Any] = value if isinstance(value, list) else []
    return max((_depth(child, level + 1) for child in children), default=level)


def page_args() -> tuple[int, int]:
    """(limit, offset) from `?limit=` and `?cursor=`; 422 when either is malformed."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    cursor = request.args.get("cursor")
    return int(raw_limit), decode_cursor(cursor) if cursor else 0


def decode_cursor(cursor: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput({"cursor": "is not a cursor this API gave out"}) from None
    if offset < 0:
        raise InvalidInput({"cursor": "is not a cursor this API gave out"})
    return offset


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def listing(items: list[dict[str, Any]], *, limit: int, offset: int, has_more: bool) -> Response:
    """The list shape: {"items": [...], "next_cursor": "…" | null}."""
    next_cursor = encode_cursor(offset + limit) if has_more else None
    return jsonify(items=items, next_cursor=next_cursor)


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    from syndicator.web.api import openapi

    return jsonify(openapi.document(core_of_app().config.site.base_url))
