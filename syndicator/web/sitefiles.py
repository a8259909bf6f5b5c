"""Site files at the root: /feeds.opml, /sitemap.xml (and its parts), /robots.txt, /favicon.ico.

Each answer carries a strong ETag (of its bytes), `Cache-Control` like the
feeds, and answers `If-None-Match` / `If-Modified-Since` with 304. The sitemap
and the OPML list walk every post, so they are rendered once per version of the
whole site (any feed's change) and kept in the render cache like the feeds.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator.core import Core
from syndicator.feeds import serving, sitefiles, sitemap
from syndicator.feeds.cache import SITE, Rendered
from syndicator.models import Feed
from syndicator.web.context import core_of_app

blueprint = Blueprint("sitefiles", __name__)
BUILT_IN_ICON = resources.files("syndicator.web") / "static" / "favicon.ico"
XML = "application/xml; charset=utf-8"


@blueprint.get("/feeds.opml")
def opml() -> WerkzeugResponse:
    return _cached(_opml(core_of_app()), "text/x-opml; charset=utf-8")


@blueprint.get("/sitemap.xml")
def site_map() -> WerkzeugResponse:
    return _cached(_sitemap(core_of_app()), XML)


@blueprint.get("/sitemap-<int:number>.xml")
def site_map_part(number: int) -> WerkzeugResponse:
    parts = _sitemap(core_of_app()).parts
    if not 1 <= number <= len(parts):
        abort(404)
    return _cached(parts[number - 1], XML)


@blueprint.get("/robots.txt")
def robots() -> WerkzeugResponse:
    return _answer(sitefiles.robots(core_of_app().urls), "text/plain; charset=utf-8", None)


@blueprint.get("/favicon.ico")
def favicon() -> WerkzeugResponse:
    """The default feed's `icon` (a file in its folder, or a URL), else the built-in one."""
    core = core_of_app()
    with core.reading() as session:
        feed = session.get(Feed, core.config.site.default_feed)
        icon = feed.icon if feed is not None else None
    if icon and is_url(icon):
        return redirect(icon, code=302)
    file = _icon_file(core, core.config.site.default_feed, icon) if icon else None
    if file is None:
        return _answer(BUILT_IN_ICON.read_bytes(), "image/vnd.microsoft.icon", None)
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    changed = datetime.fromtimestamp(file.stat().st_mtime, UTC)
    return _answer(file.read_bytes(), media_type, changed)


@blueprint.app_template_global("icon_url")
def icon_url(feed: Feed | None) -> str | None:
    """The feed's own icon as an absolute URL (for pages and link previews); None if none."""
    if feed is None or not feed.icon:
        return None
    if is_url(feed.icon):
        return feed.icon
    core = core_of_app()
    if feed.slug == core.config.site.default_feed and _icon_file(core, feed.slug, feed.icon):
        return core.urls.absolute("/favicon.ico")
    return None


def is_url(icon: str) -> bool:
    return icon.startswith(("https://", "http://"))


def _icon_file(core: Core, feed: str, icon: str) -> Path | None:
    """`icon` as a file inside the feed's folder; None when it is not one."""
    folder = core.config.path(core.config.storage.content_dir).resolve() / feed
    file = (folder / icon).resolve()
    return file if file.is_relative_to(folder) and file.is_file() else None


def paths(core: Core) -> tuple[str, ...]:
    """Every site file's path, the sitemap's parts included (for `export`)."""
    return sitefiles.paths(len(_sitemap(core).parts))


def _sitemap(core: Core) -> Rendered:
    def render(now: datetime) -> serving.Made:
        feeds = _walk(core, now)
        made = sitefiles.sitemap(feeds, core.urls, core.config.site.default_feed)
        return _made(feeds, now, made.index, made.parts)

    return _rendered(core, "sitemap.xml", "sitemap", render)


def _opml(core: Core) -> Rendered:
    def render(now: datetime) -> serving.Made:
        feeds = _walk(core, now)
        site = core.config.site
        return _made(feeds, now, sitefiles.opml(feeds, core.urls, site.title, site.default_feed))

    return _rendered(core, "feeds.opml", "opml", render)


def _rendered(core: Core, name: str, kind: str, render: serving.Renderer) -> Rendered:
    """A site file, rendered once per version of the whole site (it lists every feed) and
    until a scheduled post comes due; one render at a time, so that the requests of a
    burst after a change wait for the one walk over every post rather than each make it."""
    with _RENDERING[kind]:
        return serving.rendered(core, (SITE, None, name, kind), render)


_RENDERING = {"sitemap": threading.Lock(), "opml": threading.Lock()}


def _made(
    feeds: list[sitemap.FeedMap], now: datetime, body: bytes, parts: tuple[bytes, ...] = ()
) -> serving.Made:
    # An empty site has no last change of its own: its files are as of when they were made.
    changed = sitefiles.last_change(feeds) or now
    return serving.Made(body, changed, sitefiles.next_due(feeds), parts=parts)


def _walk(core: Core, now: datetime) -> list[sitemap.FeedMap]:
    with core.reading() as session:
        return sitemap.walk(session, per_page=core.config.feeds.items, now=now)


def _cached(found: Rendered, content_type: str) -> WerkzeugResponse:
    return _answer(found.body, content_type, found.last_modified, found.etag)


def _answer(
    body: bytes, content_type: str, last_modified: datetime | None, etag: str | None = None
) -> WerkzeugResponse:
    """The file with its validators (`etag` when its hash is known already: a sitemap's
    bytes are many to hash on every request)."""
    response = Response(body, content_type=content_type)
    response.set_etag(etag or hashlib.sha256(body).hexdigest()[:32])
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = core_of_app().config.feeds.max_age_seconds
    return response.make_conditional(request)
