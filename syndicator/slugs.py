"""URL slugs for posts and tags."""

import re
import unicodedata

RESERVED = frozenset({"page", "tags"})
MAX_LENGTH = 200  # the slug columns are VARCHAR(200)
_VALID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Don't Call Back" -> "dont-call-back"."""
    without_apostrophes = re.sub("['\u2019]", "", text)
    ascii_text = unicodedata.normalize("NFKD", without_apostrophes).encode("ascii", "ignore")
    ascii_text = ascii_text.decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:120].rstrip("-")


def problem(slug: str) -> str | None:
    """Why `slug` cannot be used in a URL, or None when it can."""
    if len(slug) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not _VALID.fullmatch(slug):
        return "must be lower-case letters, digits and single hyphens"
    if slug in RESERVED:
        return f"'{slug}' is reserved for the feed's own URLs"
    return None
