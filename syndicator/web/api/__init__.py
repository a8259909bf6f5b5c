"""The admin API: JSON over `Authorization: Bearer <admin token>`.

Conventions every resource module follows (posts, webhooks, subscribers):
routes on `blueprint`, ids in paths as `<id:name>` (a larger number than a
database id is a 404, not an overflow), bodies read with `json_body()`, lists
paged with `window()` and answered with `listing()`, errors raised as domain
errors (web.errors turns them into the one JSON error shape), and each route
described in the module's `DOC` (an `openapi.Section` built from its field table).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from syndicator import paging, xmltext
from syndicator.errors import InvalidInput
from syndicator.web.api import openapi
from syndicator.web.api.openapi import MAX_LIMIT
from syndicator.web.context import core_of_app
from syndicator.web.errors import api_error

blueprint = Blueprint("api", __name__, url_prefix="/api")

PUBLIC_ENDPOINTS = {"api.openapi_document"}
DEFAULT_LIMIT = 50
_MAX_DEPTH = 32
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
    return {xmltext.clean(key): _without_forbidden_characters(value) for key, value in data.items()}


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


def window() -> paging.Window:
    """`?limit=` (1 to MAX_LIMIT; 422 when malformed) and `?cursor=` of a list route."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return paging.Window(int(raw_limit), request.args.get("cursor"))


def listing(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    """The list shape: {"items": [...], "next_cursor": "…" | null}."""
    return jsonify(items=items, next_cursor=next_cursor)


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    sections = (
        openapi.SELF,
        posts.DOC,
        media.DOC,
        webhooks.DOC,
        websub.DOC,
        deliveries.DOC,
        subscribers.DOC,
        stats.DOC,
    )
    return jsonify(openapi.document(core_of_app().config.site.base_url, sections))


# Resource modules register their routes on `blueprint` when imported.
from syndicator.web.api import deliveries, media, posts, stats, subscribers, webhooks, websub  # noqa: E402
