"""The post field table: what an editor may send (API body, CLI options) and what is shown.

`TABLE` drives both the checks here and the OpenAPI schemas (web/api/posts.py),
so what is checked and what is documented cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from syndicator import slugs
from syndicator.errors import InvalidInput
from syndicator.feeds import podcast
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import PostSource, PostStatus
from syndicator.posts import attachments

MAX_TAGS = 50
MAX_TAG_LENGTH = 100
MAX_SLUG_LENGTH = slugs.MAX_LENGTH


class PostState(StrEnum):
    """What readers see of a post: a draft, a post waiting for its date, or a live post."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


ATTACHMENT = Table(
    "an attachment",
    (
        Field(
            "url",
            Kind.TEXT,
            "An http(s) URL, or a file of the feed's media folder (`episode.mp3`); "
            "shown as the absolute URL.",
            required=True,
            max_length=2000,
        ),
        Field(
            "type",
            Kind.TEXT,
            "Media type; from the file or the name when absent.",
            nullable=True,
            max_length=100,
        ),
        Field("length", Kind.INTEGER, "Bytes; read from the file for a media file.", nullable=True),
        Field("duration", Kind.INTEGER, "Seconds of sound or video.", nullable=True),
        Field("title", Kind.TEXT, nullable=True, max_length=300),
    ),
)

TABLE = Table(
    "a post",
    (
        Field("id", Kind.INTEGER, "The API's handle for the post.", read_only=True),
        Field("guid", Kind.TEXT, "The entry id in every feed; never changes.", read_only=True),
        Field("feed", Kind.TEXT, read_only=True),
        Field("url", Kind.URL, "The permalink.", read_only=True),
        Field("title", Kind.TEXT, "The headline.", required=True, max_length=2000),
        Field(
            "content",
            Kind.TEXT,
            "The body as Markdown (raw HTML inside is sanitized); null when given as HTML.",
            null_on_read=True,
        ),
        Field("content_html", Kind.TEXT, "The body as HTML, sanitized; instead of `content`."),
        Field("summary", Kind.TEXT, "A short teaser.", max_length=5000, nullable=True),
        Field(
            "slug",
            Kind.SLUG,
            "The last part of the permalink; made from the title when absent.",
            max_length=MAX_SLUG_LENGTH,
        ),
        Field("author", Kind.TEXT, "The author's name.", max_length=300, nullable=True),
        Field(
            "tags",
            Kind.TEXT_LIST,
            f"Tag names, at most {MAX_TAGS} of {MAX_TAG_LENGTH} characters.",
            max_items=MAX_TAGS,
            max_length=MAX_TAG_LENGTH,
        ),
        Field(
            "status",
            Kind.CHOICE,
            "`draft` hides the post; `published` shows it once due (`scheduled` until then).",
            choices=_values(PostStatus),
            read_choices=_values(PostState),
        ),
        Field(
            "published",
            Kind.TIMESTAMP,
            "RFC 3339 time of publication; in the future, the post is scheduled.",
        ),
        Field(
            "updated",
            Kind.TIMESTAMP,
            "Moves only when what readers see changes.",
            read_only=True,
        ),
        Field("created", Kind.TIMESTAMP, read_only=True),
        Field("source", Kind.CHOICE, choices=_values(PostSource), read_only=True),
        Field(
            "source_path", Kind.TEXT, "The file, for folder posts.", nullable=True, read_only=True
        ),
        Field(
            "attachments",
            Kind.RECORDS,
            "Enclosures: RSS `<enclosure>` (the first), Atom `link rel=enclosure`, "
            "JSON Feed `attachments`.",
            records=ATTACHMENT,
            max_items=attachments.MAX_ATTACHMENTS,
        ),
        *(
            Field(
                name,
                Kind.INTEGER,
                f"Podcast {name} number.",
                nullable=True,
                minimum=podcast.FIRST_NUMBER,
                maximum=podcast.LAST_NUMBER,
            )
            for name in ("episode", "season")
        ),
    ),
    at_most_one_of=("content", "content_html"),
)

Changes = dict[str, Any]


def parse(body: Mapping[str, Any], *, creating: bool) -> Changes:
    """The fields the caller sent, converted; InvalidInput naming every bad one."""
    changes = TABLE.parse(body, creating=creating, checks={"attachments": _attachments})
    if "status" in changes:
        changes["status"] = PostStatus(changes["status"])
    return changes


def _attachments(values: list[dict[str, Any]]) -> tuple[attachments.Attachment, ...]:
    return attachments.parse_all(values, None)


def parse_state(value: str | None) -> PostState | None:
    """The `status` list filter; InvalidInput for a state that does not exist."""
    if value is None:
        return None
    if value not in _values(PostState):
        problem = "must be one of " + ", ".join(_values(PostState))
        raise InvalidInput({"status": problem}, f"status {problem}")
    return PostState(value)
