"""A post's attachments (enclosures): parsed from front matter or the API, stored as JSON.

An attachment is an http(s) URL, or a file of the post's bundle or of the
feed's media folder. A file is stored as its path relative to the post's page
(`episode.mp3`, `../media/episode.mp3`, as `media.links` writes links), so it
resolves like a link; its type and length are read from the file when a feed
is rendered (`resolve`), so they follow the file.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from syndicator import xmltext
from syndicator.feeds import formats
from syndicator.media import links, names
from syndicator.models import Media

MAX_ATTACHMENTS = 20
_KEYS = {"url", "type", "length", "duration", "title"}
_CLOCK = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)$")
_MIME = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    href: str  # absolute http(s) URL, or a path relative to the post's page
    type: str | None = None
    length: int | None = None
    duration: int | None = None  # seconds
    title: str | None = None

    @property
    def is_file(self) -> bool:
        return not urlsplit(self.href).scheme


def parse_all(values: list[Any], location: str | None) -> tuple[Attachment, ...]:
    """Each value a URL or file name, or a table with `url` and optional `type`,
    `length`, `duration` (seconds or H:MM:SS), `title`; ValueError says what is wrong."""
    if len(values) > MAX_ATTACHMENTS:
        raise ValueError(f"at most {MAX_ATTACHMENTS} attachments")
    return tuple(parse_one(value, location) for value in values)


def parse_one(value: Any, location: str | None) -> Attachment:
    table = {"url": value} if isinstance(value, str) else value
    if not isinstance(table, Mapping) or not isinstance(table.get("url"), str):
        raise ValueError("an attachment is a URL or file name, or a table with a 'url'")
    if unknown := set(table) - _KEYS:
        raise ValueError(f"unknown attachment key '{sorted(unknown)[0]}'")
    kind = _optional_text(table, "type")
    if kind is not None and not _MIME.match(kind):
        raise ValueError(f"'type' {kind!r} is not a media type like audio/mpeg")
    return Attachment(
        href=_href(table["url"].strip(), location),
        type=kind,
        length=_count(table.get("length"), "length"),
        duration=_duration(table.get("duration")),
        title=_optional_text(table, "title"),
    )


def _href(url: str, location: str | None) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        raise ValueError(f"{url!r} is neither an http(s) URL nor a media file name")
    folder = posixpath.dirname(location) if location else links.API_POST_FOLDER
    bundle = location is not None and posixpath.basename(location) == "index.md"
    path = links.page_relative(parts.path, folder, bundle=bundle)
    if path is None:  # a bare name in a post without a bundle: the feed's media folder
        path = f"../{links.MEDIA_FOLDER}/" + posixpath.normpath(parts.path)
    if links.served_name(path) is None:
        raise ValueError(f"{url!r} points outside the post's folder and the media folder")
    return path


def _optional_text(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be text")
    return xmltext.clean(value).strip() or None


def _count(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'{key}' must be a whole number of bytes, 0 or more")
    return value


def _duration(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("'duration' must be seconds or H:MM:SS")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def stored(items: tuple[Attachment, ...]) -> str | None:
    """The JSON kept in posts.attachments (None for none)."""
    return json.dumps([asdict(item) for item in items]) if items else None


def loaded(text: str | None) -> tuple[Attachment, ...]:
    return tuple(Attachment(**item) for item in json.loads(text)) if text else ()


def shown(item: Attachment, post_url: str) -> dict[str, Any]:
    """The API's view: the URL made absolute, the rest as stored."""
    return {
        "url": urljoin(post_url, item.href),
        "type": item.type,
        "length": item.length,
        "duration": item.duration,
        "title": item.title,
    }


def file_key(item: Attachment, post_id: int) -> tuple[int | None, str] | None:
    """(post id or None for the media folder, name) of a file attachment."""
    place = links.served_name(item.href)
    if place is None:
        return None
    in_media, name = place
    return (None if in_media else post_id, name)


def resolve(
    items: tuple[Attachment, ...],
    post_url: str,
    post_id: int,
    files: Mapping[tuple[int | None, str], Media],
) -> tuple[formats.Enclosure, ...]:
    """What feeds show; a file attachment whose file is gone is left out."""
    shown = []
    for item in items:
        kind, length = item.type, item.length or 0
        if item.is_file:
            key = file_key(item, post_id)
            media = files.get(key) if key else None
            if media is None:
                continue
            kind, length = kind or media.content_type, media.length
        kind = kind or names.content_type(urlsplit(item.href).path) or "application/octet-stream"
        url = urljoin(post_url, item.href)
        shown.append(formats.Enclosure(url, kind, length, item.duration, item.title))
    return tuple(shown)
