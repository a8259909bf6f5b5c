"""The admin API: JSON over `Authorization: Bearer <admin token>`.

Conventions every resource module follows (posts, webhooks, subscribers):
routes on `blueprint`, ids in paths as `<id:name>` (a larger number than a
database id is a 404, not an overflow), bodies read with `json_body()`, lists
answered with `listing()`, errors raised as domain errors (web.errors turns
them into the one JSON error shape), and each route described in
`openapi.PATHS`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from syndicator import xmltext
from syndicator.errors import InvalidInput
from syndicator.models import MAX_ID, is_valid_id
from syndicator.web.context import core_of_app
from syndicator.web.errors import api_error

blueprint = Blueprint("api", __name__, url_prefix="/api")

PUBLIC_ENDPOINTS = {"api.openapi_document"}
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
_MAX_DEPTH = 32
_MAX_OFFSET = MAX_ID  # no real cursor gets further
_LIMIT = re.compile(r"[0-9]{1,4}")
# PATCH bodies are often sent as JSON Merge Patch (RFC 7396); the meaning is the same here.
JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")


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
    # Hashing first makes the comparison take the same time whatever the given length.
    valid = hmac.compare_digest(_digest(given.strip()), _digest(token))
    if scheme.lower() != "bearer" or not valid:
        return api_error(401, "unauthorized", "missing or wrong bearer token")
    return None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@blueprint.before_request
def _refuse_nul_in_query() -> None:
    """No database stores NUL in text; a query asking for one is malformed."""
    bad = {
        name: "must not contain NUL characters"
        for name, value in request.args.items(multi=True)
        if "\x00" in name + value
    }
    if bad:
        raise InvalidInput({xmltext.clean(name): reason for name, reason in bad.items()})


def json_body() -> dict[str, Any]:
    """The request's JSON object; 413, 415, 400 or 422 for anything else."""
    limit = core_of_app().config.admin.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    if request.mimetype not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidInput({"body": f"nested deeper than {_MAX_DEPTH} levels"}) from None
    except ValueError as exc:  # bad UTF-8, bad JSON, NaN, a number too long to read
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"}, "the body must be a JSON object")
    if _depth(data) > _MAX_DEPTH:
        raise InvalidInput({"body": f"nested deeper than {_MAX_DEPTH} levels"}, "body too deep")
    return _without_forbidden_characters(data)


def _without_forbidden_characters(value: Any) -> Any:
    """Every string with the characters XML forbids removed, as the contract says for all text.

    This also keeps NUL (which PostgreSQL refuses) and lone surrogates out of every resource.
    """
    if isinstance(value, str):
        return xmltext.clean(value)
    if isinstance(value, list):
        return [_without_forbidden_characters(item) for item in value]
    if isinstance(value, dict):
        return {xmltext.clean(k): _without_forbidden_characters(v) for k, v in value.items()}
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any, level: int = 1) -> int:
    if level > _MAX_DEPTH:
        return level
    if isinstance(value, dict):
        value = list(value.values())
    children: Sequence[Any] = value if isinstance(value, list) else []
    return max((_depth(child, level + 1) for child in children), default=level)


def limit_arg() -> int:
    """`?limit=`, 1 to MAX_LIMIT; 422 when malformed."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return int(raw_limit)


def page_args() -> tuple[int, int]:
    """(limit, offset) from `?limit=` and `?cursor=`; 422 when either is malformed."""
    cursor = request.args.get("cursor")
    return limit_arg(), decode_cursor(cursor) if cursor else 0


def position_args() -> tuple[int, tuple[datetime, int] | None]:
    """(limit, position after which the page starts) for lists ordered by (time, id).

    A position rather than an offset: rows added while a client pages never
    shift an item from one page to the next.
    """
    cursor = request.args.get("cursor")
    return limit_arg(), decode_position(cursor) if cursor else None


def _cursor_text(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def _bad_cursor() -> InvalidInput:
    return InvalidInput({"cursor": "is not a cursor this API gave out"})


def decode_cursor(cursor: str) -> int:
    text = _cursor_text(cursor)
    if not text.isdigit() or not 0 <= int(text) <= _MAX_OFFSET:
        raise _bad_cursor()
    return int(text)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def decode_position(cursor: str) -> tuple[datetime, int]:
    moment, _, row_id = _cursor_text(cursor).partition("|")
    try:
        at = datetime.fromisoformat(moment).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad_cursor() from None
    if not moment.endswith("+00:00") or not row_id.isdigit() or not is_valid_id(int(row_id)):
        raise _bad_cursor()  # not in the form encode_position writes
    return at, int(row_id)


def encode_position(at: datetime, row_id: int) -> str:
    text = f"{at.astimezone(UTC).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def offset_cursor(*, limit: int, offset: int, has_more: bool) -> str | None:
    return encode_cursor(offset + limit) if has_more else None


def listing(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    """The list shape: {"items": [...], "next_cursor": "…" | null}."""
    return jsonify(items=items, next_cursor=next_cursor)


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    from syndicator.web.api import openapi

    return jsonify(openapi.document(core_of_app().config.site.base_url))


# Resource modules register their routes on `blueprint` when imported.
from syndicator.web.api import posts, subscribers, webhooks  # noqa: E402, F401
