"""An editor's description of a post (an API body, CLI options), checked field by field.

Every problem is reported at once, keyed by field, so a client can show each
message beside its input. The same `FIELDS` table feeds the OpenAPI document,
so what is checked here and what is documented there cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from syndicator import slugs, xmltext
from syndicator.errors import InvalidInput
from syndicator.models import PostStatus

MAX_TAGS = 50
MAX_TAG_LENGTH = 100
MAX_SLUG_LENGTH = 120
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


class PostState(StrEnum):
    """What readers see of a post: a draft, a post waiting for its date, or a live post."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


class Kind(StrEnum):
    TEXT = "text"
    SLUG = "slug"
    TAGS = "tags"
    TIMESTAMP = "timestamp"
    STATUS = "status"


@dataclass(frozen=True)
class Field:
    kind: Kind
    description: str
    max_length: int | None = None
    nullable: bool = False


FIELDS: dict[str, Field] = {
    "title": Field(Kind.TEXT, "The headline.", max_length=2000),
    "content": Field(Kind.TEXT, "The body as Markdown (raw HTML inside is sanitized)."),
    "content_html": Field(Kind.TEXT, "The body as HTML, sanitized; instead of `content`."),
    "summary": Field(Kind.TEXT, "A short teaser.", max_length=5000, nullable=True),
    "slug": Field(
        Kind.SLUG,
        "The last part of the permalink; made from the title when absent.",
        max_length=MAX_SLUG_LENGTH,
    ),
    "author": Field(Kind.TEXT, "The author's name.", max_length=300, nullable=True),
    "tags": Field(Kind.TAGS, f"Tag names, at most {MAX_TAGS} of {MAX_TAG_LENGTH} characters."),
    "published": Field(
        Kind.TIMESTAMP, "RFC 3339 time of publication; in the future, the post is scheduled."
    ),
    "status": Field(Kind.STATUS, "`draft` hides the post; `published` shows it once due."),
}
REQUIRED_ON_CREATE = ("title",)

Changes = dict[str, Any]


def parse(body: Mapping[str, Any], *, creating: bool) -> Changes:
    """The fields the caller sent, converted; InvalidInput naming every bad one."""
    problems: dict[str, str] = {}
    changes: Changes = {}
    for name, value in body.items():
        spec = FIELDS.get(name)
        if spec is None:
            problems[_printable(name)] = "is not a field of a post"
            continue
        try:
            changes[name] = _convert(spec, value)
        except ValueError as exc:
            problems[name] = str(exc)
    if creating:
        for name in REQUIRED_ON_CREATE:
            if name not in body:
                problems[name] = "is required"
    if "content" in body and "content_html" in body:
        problems["content_html"] = "give either content (Markdown) or content_html, not both"
    if problems:
        raise InvalidInput(problems, "some fields are invalid: " + ", ".join(problems))
    return changes


def _printable(name: str) -> str:
    return xmltext.clean(name)[:100]


def _convert(spec: Field, value: Any) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise ValueError("must not be null")
    return _CONVERTERS[spec.kind](spec, value)


def _text(spec: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_json_type(value)}")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise ValueError(f"must be at most {spec.max_length} characters")
    return value


def _slug(spec: Field, value: Any) -> str:
    slug = _text(spec, value).strip()
    if reason := slugs.problem(slug):
        raise ValueError(reason)
    return slug


def _tags(_spec: Field, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError("must be a list of strings")
    if len(value) > MAX_TAGS:
        raise ValueError(f"must hold at most {MAX_TAGS} tags")
    if any(len(tag) > MAX_TAG_LENGTH for tag in value):
        raise ValueError(f"each tag must be at most {MAX_TAG_LENGTH} characters")
    return tuple(value)


def _timestamp(_spec: Field, value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 time string, not {_json_type(value)}")
    return parse_timestamp(value)


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 time (offset required) as aware UTC; ValueError saying what is wrong."""
    example = "like 2026-05-01T09:00:00Z"
    if not _RFC3339.fullmatch(value.strip()):
        raise ValueError(f"must be an RFC 3339 time with an offset, {example}")
    try:
        return datetime.fromisoformat(value.strip()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"is not a real date and time, {example}") from None


def _status(_spec: Field, value: Any) -> PostStatus:
    return PostStatus(_choice(value, [status.value for status in PostStatus]))


def _choice(value: Any, allowed: list[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError("must be one of " + ", ".join(allowed))
    return value


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list"}
    return names.get(type(value), "an object" if isinstance(value, dict) else "a string")


_CONVERTERS: dict[Kind, Callable[[Field, Any], Any]] = {
    Kind.TEXT: _text,
    Kind.SLUG: _slug,
    Kind.TAGS: _tags,
    Kind.TIMESTAMP: _timestamp,
    Kind.STATUS: _status,
}


def parse_state(value: str | None) -> PostState | None:
    """The `status` list filter; InvalidInput for a state that does not exist."""
    if value is None:
        return None
    try:
        return PostState(_choice(value, [state.value for state in PostState]))
    except ValueError as exc:
        raise InvalidInput({"status": str(exc)}, f"status {exc}") from None
