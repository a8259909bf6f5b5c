"""A feed's `[podcast]` table: checked when feed.toml is read, kept as JSON on the feed row.

The RSS feed of a podcast carries the `itunes:` tags Apple requires and the
Podcasting 2.0 `podcast:guid` and `podcast:locked` (formats.rss writes them).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from syndicator import xmltext

# Podcasting 2.0: podcast:guid is the UUIDv5 of the feed URL (scheme and trailing
# slashes removed) in this namespace.
GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
TYPES = ("episodic", "serial")
# Episode and season numbers: counted from 1, and held in a 32-bit column on PostgreSQL.
FIRST_NUMBER, LAST_NUMBER = 1, 2**31 - 1
_KEYS = {"image", "categories", "explicit", "owner", "author", "type", "locked", "guid"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Apple Podcasts categories and their subcategories (the list the W3C validator checks).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": (
        "Careers",
        "Entrepreneurship",
        "Investing",
        "Management",
        "Marketing",
        "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health",
        "Fitness",
        "Medicine",
        "Mental Health",
        "Nutrition",
        "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga",
        "Automotive",
        "Aviation",
        "Crafts",
        "Games",
        "Hobbies",
        "Home & Garden",
        "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News",
        "Daily News",
        "Entertainment News",
        "News Commentary",
        "Politics",
        "Sports News",
        "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism",
        "Christianity",
        "Hinduism",
        "Islam",
        "Judaism",
        "Spirituality",
    ),
    "Science": (
        "Astronomy",
        "Chemistry",
        "Earth Sciences",
        "Life Sciences",
        "Mathematics",
        "Natural Sciences",
        "Nature",
        "Physics",
        "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary",
        "Personal Journals",
        "Philosophy",
        "Places & Travel",
        "Relationships",
    ),
    "Sports": (
        "Baseball",
        "Basketball",
        "Cricket",
        "Fantasy Sports",
        "Football",
        "Golf",
        "Hockey",
        "Rugby",
        "Running",
        "Soccer",
        "Swimming",
        "Tennis",
        "Volleyball",
        "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}


@dataclass(frozen=True)
class Settings:
    """What `[podcast]` says; `image` is a URL or a file of the feed's media folder."""

    image: str
    categories: tuple[tuple[str, str | None], ...]
    owner_name: str
    owner_email: str
    author: str
    explicit: bool = False
    type: str = "episodic"
    locked: bool = False
    guid: str | None = None  # kept when the feed moves; else derived from the feed URL


def parse(table: Any, *, author_name: str | None, author_email: str | None) -> Settings:
    """Check `[podcast]`; ValueError names the key and the reason. Owner and author default
    to the feed's author."""
    if not isinstance(table, dict):
        raise ValueError("'podcast' must be a table ([podcast])")
    if unknown := set(table) - _KEYS:
        raise ValueError(f"unknown key 'podcast.{sorted(unknown)[0]}'")
    owner = table.get("owner", {})
    if not isinstance(owner, dict) or set(owner) - {"name", "email"}:
        raise ValueError("'podcast.owner' must be a table with name and email")
    email = _text(owner, "email", "podcast.owner") or author_email
    if not email or not _EMAIL.match(email):
        raise ValueError("'podcast.owner.email' is required (Apple writes to it)")
    name = _text(owner, "name", "podcast.owner") or author_name
    if not name:
        raise ValueError("'podcast.owner.name' is required (or the feed's author.name)")
    return Settings(
        image=_image(table.get("image")),
        categories=_categories(table.get("categories")),
        owner_name=name,
        owner_email=email,
        author=_text(table, "author", "podcast") or name,
        explicit=_flag(table, "explicit"),
        type=_choice(table.get("type", "episodic")),
        locked=_flag(table, "locked"),
        guid=_guid(table.get("guid")),
    )


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{where}.{key}' must be text")
    return xmltext.clean(value).strip() or None if value else None


def _image(value: Any) -> str:
    if not isinstance(value, str) or not value.lower().endswith((".jpg", ".jpeg", ".png")):
        raise ValueError("'podcast.image' is required: a .jpg or .png (a URL or a media file)")
    return value.strip()


def _categories(value: Any) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("'podcast.categories' needs at least one Apple category, as a list")
    found = []
    for entry in value:
        top, _, sub = (part.strip() for part in entry.partition(">"))
        if top not in CATEGORIES or (sub and sub not in CATEGORIES[top]):
            raise ValueError(f"'podcast.categories': {entry!r} is not an Apple category")
        found.append((top, sub or None))
    return tuple(found)


def _flag(table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"'podcast.{key}' must be true or false")
    return value


def _choice(value: Any) -> str:
    if value not in TYPES:
        raise ValueError("'podcast.type' must be episodic or serial")
    return str(value)


def _guid(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError("'podcast.guid' must be a UUID") from None


def stored(settings: Settings | None) -> str | None:
    """The JSON kept in feeds.podcast."""
    return json.dumps(asdict(settings), sort_keys=True) if settings else None


def loaded(text: str | None) -> Settings | None:
    if not text:
        return None
    values = json.loads(text)
    values["categories"] = tuple((top, sub) for top, sub in values["categories"])
    return Settings(**values)


def guid_for(feed_url: str) -> str:
    """podcast:guid per Podcasting 2.0: UUIDv5 of the URL without scheme and trailing '/'."""
    parts = urlsplit(feed_url)
    seed = feed_url[len(parts.scheme) + 3 :] if parts.scheme else feed_url
    return str(uuid.uuid5(GUID_NAMESPACE, seed.rstrip("/")))
