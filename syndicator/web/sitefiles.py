"""Site files at the root: /feeds.opml, /sitemap.xml, /robots.txt, /favicon.ico.

Each answer carries a strong ETag (of its bytes), `Cache-Control` like the
feeds, and answers `If-None-Match` / `If-Modified-Since` with 304.
"""

from __future__ import annotations

import hashlib
import mimetypes
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator.core import Core
from syndicator.feeds import sitefiles, sitemap
from syndicator.models import Feed
from syndicator.web.context import core_of_app

blueprint = Blueprint("sitefiles", __name__)
BUILT_IN_ICON = resources.files("syndicator.web") / "static" / "favicon.ico"


@blueprint.get("/feeds.opml")
def opml() -> WerkzeugResponse:
    core = core_of_app()
    feeds = _walk(core)
    site = core.config.site
    body = sitefiles.opml(feeds, core.urls, site.title, site.default_feed)
    return _answer(body, "text/x-opml; charset=utf-8", sitefiles.last_change(feeds))


@blueprint.get("/sitemap.xml")
def site_map() -> WerkzeugResponse:
    core = core_of_app()
    feeds = _walk(core)
    body = sitefiles.sitemap(feeds, core.urls, core.config.site.default_feed)
    return _answer(body, "application/xml; charset=utf-8", sitefiles.last_change(feeds))


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


def _walk(core: Core) -> list[sitemap.FeedMap]:
    with core.reading() as session:
        return sitemap.walk(session, per_page=core.config.feeds.items, now=core.now())


def _answer(body: bytes, content_type: str, last_modified: datetime | None) -> WerkzeugResponse:
    response = Response(body, content_type=content_type)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = core_of_app().config.feeds.max_age_seconds
    return response.make_conditional(request)
