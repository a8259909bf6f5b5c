"""HTML pages: home, post lists, permalinks, tag lists."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator import markup, timestamps
from syndicator.feeds import catalog, documents, formats
from syndicator.posts import store
from syndicator.web import prose, sitefiles
from syndicator.web.context import core_of_app

blueprint = Blueprint("pages", __name__)
_DESCRIPTION_CHARACTERS = 200


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


@blueprint.get("/")
def home() -> str:
    core = core_of_app()
    default = core.config.site.default_feed
    with core.reading() as session:
        all_feeds = catalog.all_feeds(session)
        if any(feed.slug == default for feed in all_feeds):
            return _render_listing(session, default, None, 1)
    return render_template("feeds_index.html", feeds=all_feeds, feed=None)


@blueprint.get("/<feed>/")
@blueprint.get("/<feed>/page/<int:page>/")
@blueprint.get("/<feed>/tags/<tag>/")
@blueprint.get("/<feed>/tags/<tag>/page/<int:page>/")
def listing(feed: str, tag: str | None = None, page: int | None = None) -> str | WerkzeugResponse:
    core = core_of_app()
    if page == 1:
        return redirect(core.urls.listing_path(feed, tag), code=301)
    if page is not None and page < 1:
        abort(404)  # as /page/0/atom.xml: there is no page 0
    with core.reading() as session:
        return _render_listing(session, feed, tag, page or 1)


def _render_listing(session: Session, feed: str, tag: str | None, page: int) -> str:
    core = core_of_app()
    found = documents.listing(
        session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=core.now()
    )
    url = core.urls.canonical_listing(core.config.site.default_feed, feed, tag, page)
    description = (
        f"Posts tagged “{found.tag_name}” on {found.feed.title}"
        if found.tag_name
        else _plain(found.feed.subtitle or found.feed.title)
    )
    social = Social("website", found.title, description, url, sitefiles.icon_url(found.feed))
    return render_template("list.html", listing=found, feed=found.feed, tag=tag, social=social)


@blueprint.get("/<feed>/<slug>/")
def post(feed: str, slug: str) -> str:
    core = core_of_app()
    with core.reading() as session:
        channel = catalog.get(session, feed)
        found = store.find_visible(session, feed, slug, core.now())
        entry = documents.entry(found, channel, core.urls, full_content=True)
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
        return render_template(
            "post.html",
            feed=channel,
            post=found,
            content_html=html_content,
            tag=None,
            social=social,
            edited_later=_local_date(found.updated_at) != _local_date(found.published_at),
        )


def _plain(text: str) -> str:
    return markup.excerpt(html.escape(text), _DESCRIPTION_CHARACTERS)
