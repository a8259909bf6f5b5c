"""HTML pages: home, post lists, permalinks, tag lists."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator import markup, timestamps
from syndicator.feeds import catalog, documents, formats
from syndicator.posts import store
from syndicator.web.context import core_of_app

blueprint = Blueprint("pages", __name__)


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
    return render_template("feeds_index.html", feeds=all_feeds)


@blueprint.get("/<feed>/")
@blueprint.get("/<feed>/page/<int:page>/")
@blueprint.get("/<feed>/tags/<tag>/")
@blueprint.get("/<feed>/tags/<tag>/page/<int:page>/")
def listing(feed: str, tag: str | None = None, page: int | None = None) -> str | WerkzeugResponse:
    core = core_of_app()
    if page == 1:
        return redirect(core.urls.listing_path(feed, tag), code=301)
    with core.reading() as session:
        return _render_listing(session, feed, tag, page or 1)


def _render_listing(session: Session, feed: str, tag: str | None, page: int) -> str:
    core = core_of_app()
    found = documents.listing(
        session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=core.now()
    )
    return render_template("list.html", listing=found, feed=found.feed, tag=tag)


@blueprint.get("/<feed>/<slug>/")
def post(feed: str, slug: str) -> str:
    core = core_of_app()
    with core.reading() as session:
        channel = catalog.get(session, feed)
        found = store.find_visible(session, feed, slug, core.now())
        html = documents.entry(found, channel, core.urls, full_content=True).content_html
        return render_template("post.html", feed=channel, post=found, content_html=html, tag=None)
