"""Relative links in a post, made to point where its files are served.

A post's page is `/<feed>/<slug>/`, and so a bundle's files are served at
`/<feed>/<slug>/<name>` and the feed's media folder at `/<feed>/media/<name>`.
A link is read relative to the post's file (as an editor's preview reads it),
and one that reaches the media folder is rewritten relative to the page, so
the browser, and `markup.absolutize` for feeds and mail, resolve it the same.
Pure: it only looks at the link and the file's place.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

MEDIA_FOLDER = "media"
API_POST_FOLDER = "posts"  # API posts are read as if they were posts/<slug>.md


def resolver(location: str | None) -> Callable[[str], str]:
    """A rewrite for links of the post at `location`: its file inside the feed folder
    (`posts/x.md`, `posts/x/index.md`), None for a post from the API."""
    folder = posixpath.dirname(location) if location else API_POST_FOLDER
    bundle = location is not None and posixpath.basename(location) == "index.md"

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            return url
        path = page_relative(parts.path, folder, bundle=bundle)
        return url if path is None else urlunsplit(("", "", path, parts.query, parts.fragment))

    return rewrite


def page_relative(path: str, folder: str, *, bundle: bool) -> str | None:
    """`path` (relative to a post file in `folder`) relative to the post's page; None when
    it names neither the bundle nor the media folder."""
    if path.startswith(MEDIA_FOLDER + "/"):  # written relative to the feed folder
        return "../" + posixpath.normpath(path)
    target = posixpath.normpath(posixpath.join(folder, path))
    if target.startswith(MEDIA_FOLDER + "/"):
        return "../" + target
    if bundle and target.startswith(folder + "/"):
        return target[len(folder) + 1 :]
    return None


def served_name(path: str) -> tuple[bool, str] | None:
    """Where a page-relative path points: (True, name) in the media folder, (False, name)
    in the post's bundle; None when it leaves both."""
    if path.startswith("../" + MEDIA_FOLDER + "/"):
        return True, path[len(MEDIA_FOLDER) + 4 :]
    if path.startswith(("../", "/")) or not path:
        return None
    return False, path
