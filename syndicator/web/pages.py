"""HTML pages: home, post lists, permalinks, tag lists.

Each page is rendered once per feed version, like the feeds (`serving.rendered`),
and answered from the cache after that, by the fast path when warm.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator import markup, timestamps
from syndicator.core import Core
from syndicator.feeds import catalog, documents, formats, serving
from syndicator.models import Feed, Post
from syndicator.posts import store
from syndicator.web import cached, prose, sitefiles
from syndicator.web.context import core_of_app

blueprint = Blueprint("pages", __name__)
_DESCRIPTION_CHARACTERS = 200

# The page URL rules; web.fastpath labels its hits with them too.
HOME = "/"
LIST = "/<feed>/"
LIST_PAGE = "/<feed>/page/<int:page>/"
TAG = "/<feed>/tags/<tag>/"
TAG_PAGE = "/<feed>/tags/<tag>/page/<int:page>/"
POST = "/<feed>/<slug>/"


@dataclass(frozen=True)
class Social:
    """What a link preview (OpenGraph, Twitter card) shows of a page."""

    type: str  # "website" or "article"
    title: str
    description: str
    url: str
    image: str | None = None
    published: datetime | None = None
    updated: datetime | None = None


@blueprint.app_context_processor
def _site() -> dict[str, object]:
    core = core_of_app()
    return {
        "site": core.config.site,
        "urls": core.urls,
        "FILENAMES": formats.FILENAMES,
        "byline": documents.byline,
    }


@blueprint.app_template_filter("excerpt")
def _excerpt(fragment: str) -> str:
    return markup.excerpt(fragment)


@blueprint.app_template_filter("end_sentence")
def _end_sentence(text: str) -> str:
    return prose.end_sentence(text)


@blueprint.app_template_filter("local_date")
def _local_date(moment: datetime) -> str:
    local = timestamps.in_zone(moment, core_of_app().timezone)
    return f"{local:%A, %B} {local.day}, {local.year}"


def listing_key(feed: str, tag: str | None, page: int) -> serving.Key:
    """The cache key of a list page; the home page is its default feed's first page."""
    return (feed, tag, page, "html")


def post_key(feed: str, slug: str) -> serving.Key:
    return (feed, None, slug, "post")


@blueprint.get(HOME)
def home() -> WerkzeugResponse | str:
    core = core_of_app()
    default = core.config.site.default_feed
    if core.versions.version(default) is not None:
        return _listing(core, default, None, 1)
    with core.reading() as session:
        return render_template("feeds_index.html", feeds=catalog.all_feeds(session), feed=None)


@blueprint.get(LIST)
@blueprint.get(LIST_PAGE)
@blueprint.get(TAG)
@blueprint.get(TAG_PAGE)
def listing(feed: str, tag: str | None = None, page: int | None = None) -> WerkzeugResponse:
    core = core_of_app()
    if page == 1:
        return redirect(core.urls.listing_path(feed, tag), code=301)
    if page is not None and page < 1:
        abort(404)  # as /page/0/atom.xml: there is no page 0
    return _listing(core, feed, tag, page or 1)


def _listing(core: Core, feed: str, tag: str | None, page: int) -> WerkzeugResponse:
    def render(now: datetime) -> serving.Made:
        with core.reading() as session:
            found = documents.listing(
                session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=now
            )
            return listing_made(core, found)

    return _answer(core, listing_key(feed, tag, page), render)


def listing_made(core: Core, found: documents.Listing) -> serving.Made:
    """A loaded listing's HTML page (in an app context, its session open): the one renderer
    of list pages, for requests and for the export's pages rendered ahead."""
    feed, tag, page = found.feed.slug, found.tag, found.page.number
    url = core.urls.canonical_listing(core.config.site.default_feed, feed, tag, page)
    description = (
        f"Posts tagged “{found.tag_name}” on {found.feed.title}"
        if found.tag_name
        else _plain(found.feed.subtitle or found.feed.title)
    )
    social = Social("website", found.title, description, url, sitefiles.icon_url(found.feed))
    body = render_template("list.html", listing=found, feed=found.feed, tag=tag, social=social)
    return serving.Made(body.encode(), documents.last_modified(found), found.page.next_due_at)


@blueprint.get(POST)
def post(feed: str, slug: str) -> WerkzeugResponse:
    core = core_of_app()

    def render(now: datetime) -> serving.Made:
        with core.reading() as session:
            channel = catalog.get(session, feed)
            found = store.find_visible(session, feed, slug, now)
            return post_made(core, channel, found, documents.files_of(session, feed, [found]))

    return _answer(core, post_key(feed, slug), render)


def post_made(core: Core, channel: Feed, found: Post, files: documents.Files) -> serving.Made:
    """A visible post's page (in an app context, its session open); `files` holds at least
    the media its attachments may name. The one renderer of post pages, for requests and
    for the export's pages rendered ahead from a list page's posts."""
    entry = documents.entry(found, channel, core.urls, full_content=True, files=files)
    html_content = entry.content_html or ""
    social = Social(
        "article",
        found.title,
        found.summary or markup.excerpt(html_content, _DESCRIPTION_CHARACTERS),
        entry.url,
        markup.first_image(html_content) or sitefiles.icon_url(channel),
        published=found.published_at,
        updated=found.updated_at,
    )
    body = render_template(
        "post.html",
        feed=channel,
        post=found,
        content_html=html_content,
        enclosures=entry.enclosures,
        tag=None,
        social=social,
        edited_later=_local_date(found.updated_at) != _local_date(found.published_at),
    )
    # A visible post's page changes only with a write, which moves the version.
    return serving.Made(body.encode(), max(found.updated_at, channel.changed_at), None)


def _answer(core: Core, key: serving.Key, render: serving.Renderer) -> WerkzeugResponse:
    rendered = serving.rendered(core, key, render)
    return cached.response(request.environ, rendered, key[3], core.config.feeds.max_age_seconds)


def _plain(text: str) -> str:
    return markup.excerpt(html.escape(text), _DESCRIPTION_CHARACTERS)
