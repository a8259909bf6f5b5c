"""URL slugs for posts and tags."""

import re
import unicodedata

RESERVED = frozenset({"page", "tags", "media"})
PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_VALID = re.compile(PATTERN)
MAX_LENGTH = 120


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Don't Call Back" -> "dont-call-back"."""
    without_apostrophes = re.sub("['\u2019]", "", text)
    folded = unicodedata.normalize("NFKD", without_apostrophes).encode("ascii", "ignore")
    ascii_text = folded.decode().lower()
    return _hyphenated(re.sub(r"[^a-z0-9]+", "-", ascii_text))


def tag_slug(name: str) -> str:
    """A tag's slug: `slugify` when that keeps every letter, else Unicode words ("日本語").

    Tags in scripts with no ASCII form would otherwise all fold to one empty slug
    and be merged; their slugs stay readable and are percent-encoded in URLs.
    """
    if not _loses_letters(name):
        return slugify(name)
    words = unicodedata.normalize("NFKC", re.sub("['\u2019]", "", name)).lower()
    return _hyphenated(re.sub(r"[\W_]+", "-", words))


def _loses_letters(name: str) -> bool:
    """True when folding to ASCII drops a letter or digit (not just an accent)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return any(not char.isascii() and char.isalnum() for char in decomposed)


def _hyphenated(text: str) -> str:
    return text.strip("-")[:MAX_LENGTH].rstrip("-")


def problem(slug: str) -> str | None:
    """Why `slug` cannot be used in a URL, or None when it can."""
    if len(slug) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not _VALID.fullmatch(slug):
        return "must be lower-case letters, digits and single hyphens"
    if slug in RESERVED:
        return f"'{slug}' is reserved for the feed's own URLs"
    return None
