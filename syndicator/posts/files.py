"""Parsing the content folder's files: feeds/<feed>/feed.toml and posts/*.md."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from syndicator import headertext, slugs, timestamps, xmltext
from syndicator.errors import BadPostFile
from syndicator.feeds import catalog, podcast
from syndicator.models import PostStatus
from syndicator.posts import attachments, store

_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\r?\n(.*?)\r?\n\1[ \t]*(?:\r?\n|\Z)", re.S)
_LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]?")
_POST_KEYS = {
    "title",
    "date",
    "updated",
    "slug",
    "author",
    "tags",
    "summary",
    "draft",
    "id",
    "enclosure",
    "attachments",
    "episode",
    "season",
}
_FEED_KEYS = {"title", "subtitle", "author", "language", "link", "icon", "location", "podcast"}
# Values that reach mail headers (or could): one line of text each.
_HEADER_BOUND = ("title", "author_name", "author_email", "author_uri")
# Column sizes a value must fit (PostgreSQL refuses longer ones and the import would stop).
_MAX_ID = 200
_MAX_LANGUAGE = 35
# libyaml's loader builds the same values as yaml.safe_load, about 7 times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class PostFile:
    """A parsed post file."""

    path: str
    data: store.PostData
    content_hash: str


def parse_post(path: str, raw: bytes, timezone: ZoneInfo) -> PostFile:
    """Parse one post file; BadPostFile says what is wrong with it."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadPostFile(path, f"not UTF-8 text (byte {exc.start})") from None
    match = _FRONT_MATTER.match(text)
    if not match:
        raise BadPostFile(path, "no front matter: start the file with --- (YAML) or +++ (TOML)")
    meta = _front_matter(path, match.group(1), match.group(2))
    body = text[match.end() :]
    unknown = set(meta) - _POST_KEYS
    if unknown:
        raise BadPostFile(path, f"unknown front matter key '{sorted(unknown)[0]}'")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BadPostFile(path, "front matter needs a 'title'")
    if "date" not in meta:
        raise BadPostFile(path, "front matter needs a 'date'")
    location = path.split("/", 1)[-1]  # inside the feed folder: posts/x.md
    data = store.PostData(
        title=title,
        published_at=_timestamp(path, "date", meta["date"], timezone),
        updated_at=(
            _timestamp(path, "updated", meta["updated"], timezone) if "updated" in meta else None
        ),
        content_source=body,
        summary=_optional_text(path, meta, "summary"),
        slug=_optional_text(path, meta, "slug") or _slug_from_name(path),
        author=_optional_text(path, meta, "author"),
        tags=_tags(path, meta.get("tags", [])),
        status=PostStatus.DRAFT if _flag(path, meta, "draft") else PostStatus.PUBLISHED,
        guid=_guid(path, meta),
        location=location,
        attachments=_attachments(path, meta, location),
        episode=_number(path, meta, "episode"),
        season=_number(path, meta, "season"),
    )
    return PostFile(path, data, file_hash(raw))


def file_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _front_matter(path: str, fence: str, block: str) -> dict[str, Any]:
    try:
        meta = tomllib.loads(block) if fence == "+++" else yaml.load(block, Loader=_YAML_LOADER)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = "TOML" if fence == "+++" else "YAML"
        reason = " ".join(str(exc).split())
        raise BadPostFile(path, f"front matter is not valid {kind}: {reason}") from None
    if not isinstance(meta, dict):
        raise BadPostFile(path, "front matter must be a set of key: value pairs")
    return meta


def _timestamp(path: str, key: str, value: Any, timezone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadPostFile(path, f"'{key}' is not an ISO 8601 date: {value!r}") from None
    else:
        raise BadPostFile(path, f"'{key}' is not an ISO 8601 date: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    if problem := timestamps.range_problem(moment):
        raise BadPostFile(path, f"'{key}' {problem}: {value!r}")
    return moment.astimezone(ZoneInfo("UTC"))


def _optional_text(path: str, meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise BadPostFile(path, f"'{key}' must be text")


def _guid(path: str, meta: dict[str, Any]) -> str | None:
    guid = _optional_text(path, meta, "id")
    if guid is not None and len(guid) > _MAX_ID:
        raise BadPostFile(path, f"'id' must be at most {_MAX_ID} characters")
    return guid


def _attachments(
    path: str, meta: dict[str, Any], location: str
) -> tuple[attachments.Attachment, ...]:
    """`enclosure` (one) then `attachments` (a list), as one list."""
    listed = meta.get("attachments", [])
    if not isinstance(listed, list):
        raise BadPostFile(path, "'attachments' must be a list")
    values = ([meta["enclosure"]] if meta.get("enclosure") is not None else []) + listed
    try:
        return attachments.parse_all(values, location)
    except ValueError as problem:
        raise BadPostFile(path, f"attachment: {problem}") from None


def _number(path: str, meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    low, high = podcast.FIRST_NUMBER, podcast.LAST_NUMBER
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadPostFile(path, f"'{key}' must be a whole number from {low} to {high}")
    return value


def _flag(path: str, meta: dict[str, Any], key: str) -> bool:
    value = meta.get(key, False)
    if not isinstance(value, bool):
        raise BadPostFile(path, f"'{key}' must be true or false")
    return value


def _tags(path: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(tag, str | int) for tag in value):
        raise BadPostFile(path, "'tags' must be a list of words")
    return tuple(str(tag).strip() for tag in value if str(tag).strip())


def _slug_from_name(path: str) -> str:
    """The file name without a leading date; a bundle's folder name (posts/<name>/index.md)."""
    file = Path(path)
    name = file.parent.name if file.name == "index.md" else file.stem
    return slugs.slugify(_LEADING_DATE.sub("", name))


def _podcast(label: str, meta: dict[str, Any], values: dict[str, Any]) -> str | None:
    if not values["language"]:
        raise BadPostFile(label, "a podcast needs a 'language' (Apple requires it)")
    try:
        settings = podcast.parse(
            meta["podcast"], author_name=values["author_name"], author_email=values["author_email"]
        )
    except ValueError as problem:
        raise BadPostFile(label, str(problem)) from None
    return podcast.stored(settings)


def parse_feed_settings(path: Path) -> catalog.FeedSettings:
    """Read feed.toml; BadPostFile (naming feed.toml) when it is unusable."""
    label = str(path)
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadPostFile(label, f"not valid TOML: {exc}") from None
    unknown = set(meta) - _FEED_KEYS
    if unknown:
        raise BadPostFile(label, f"unknown key '{sorted(unknown)[0]}'")
    author = meta.get("author", {})
    if isinstance(author, str):
        author = {"name": author}
    if not isinstance(author, dict) or set(author) - {"name", "email", "uri"}:
        raise BadPostFile(label, "'author' must be a table with name, email and uri")
    if not isinstance(meta.get("title"), str) or not meta["title"].strip():
        raise BadPostFile(label, "needs a 'title'")
    values = {key: meta.get(key) for key in _FEED_KEYS - {"author", "title", "podcast"}}
    values |= {f"author_{key}": author.get(key) for key in ("name", "email", "uri")}
    if any(value is not None and not isinstance(value, str) for value in values.values()):
        raise BadPostFile(label, "every value must be text")
    if len(values["language"] or "") > _MAX_LANGUAGE:
        raise BadPostFile(label, f"'language' must be at most {_MAX_LANGUAGE} characters")
    settings = catalog.FeedSettings(
        title=xmltext.clean(meta["title"]),
        **{key: xmltext.clean_optional(value) for key, value in values.items()},
        podcast=_podcast(label, meta, values) if "podcast" in meta else None,
    )
    for key in _HEADER_BOUND:  # the title is a mail Subject and List-Id
        if (value := getattr(settings, key)) is not None and (reason := headertext.problem(value)):
            raise BadPostFile(label, f"'{key.replace('_', '.')}' {reason}")
    return settings
