"""Media file names and types: what a name may be, and how a file is served.

Pure rules shared by the folder import and the admin API, so a file has the
same name and type whichever way it arrived.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re

MAX_NAME = 255
_UNSAFE = re.compile(r"[^\w.\-]+")
# Only the built-in table: the answer must not depend on the host's /etc/mime.types.
_TYPES = mimetypes.MimeTypes(filenames=())
for _type, _extension in (
    ("audio/mp4", ".m4a"),
    ("audio/ogg", ".ogg"),
    ("audio/opus", ".opus"),
    ("audio/flac", ".flac"),
    ("video/x-m4v", ".m4v"),
    ("image/webp", ".webp"),
    ("image/avif", ".avif"),
    ("application/epub+zip", ".epub"),
    ("text/vtt", ".vtt"),
):
    _TYPES.add_type(_type, _extension)
# Types a browser shows without running anything; every other type is a download.
_INLINE_PREFIXES = ("audio/", "video/")
_INLINE = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "application/pdf",
        "text/plain",
        "text/vtt",
    }
)


def clean(name: str) -> str:
    """A safe relative path: folders kept, unsafe characters made '-'; ValueError says why not.

    No part may be empty, '.', '..' or start with a dot (hidden files stay private).
    """
    parts = name.strip().replace("\\", "/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("must be a relative path without empty, '.' or '..' parts")
    if any(part.startswith(".") for part in parts):
        raise ValueError("must not name a hidden file (a name starting with '.')")
    cleaned = "/".join(_safe(part) for part in parts)
    if len(cleaned) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters")
    return cleaned


def is_hidden(relative: str) -> bool:
    """A path with a part starting with '.' (.DS_Store, .git/): never imported."""
    return any(part.startswith(".") for part in relative.split("/"))


def content_type(name: str) -> str | None:
    """The type a file is served with, from its extension; None when unknown."""
    found, _encoding = _TYPES.guess_type(posixpath.basename(name), strict=False)
    return found


def is_inline(content_type: str) -> bool:
    """Shown in the browser (images, sound, video, PDF, text); False means a download."""
    return content_type in _INLINE or content_type.startswith(_INLINE_PREFIXES)


def _safe(part: str) -> str:
    return _UNSAFE.sub("-", part).replace("-.", ".").strip("-") or "-"
