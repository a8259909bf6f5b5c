"""The running core, and the feed a page belongs to, as seen from inside a request."""

from flask import current_app

from syndicator import db
from syndicator.core import Core
from syndicator.errors import StorageUnavailable
from syndicator.models import Feed


def core_of_app() -> Core:
    core: Core = current_app.extensions["syndicator"]  # put there by create_app
    return core


def feed_of_page(slug: str | None = None) -> Feed | None:
    """The feed whose title and style a page wears: `slug`'s, else the default feed's.

    None when neither exists, or when the database does not answer (the page
    then wears the site's title rather than failing too).
    """
    core = core_of_app()
    try:
        with core.reading() as session:
            for candidate in (slug, core.config.site.default_feed):
                if candidate and (feed := session.get(Feed, candidate)) is not None:
                    return feed
    except (StorageUnavailable, *db.UNAVAILABLE):
        return None
    return None
