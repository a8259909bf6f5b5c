"""The one way tests build a core and the rows they start from.

conftest's fixtures (`make_core`, `make_feed`, `make_post`, `make_endpoint`,
`make_subscriber`) wrap these for the test's own core and clock; call them
directly only where no fixture can reach, e.g. a second worker process on the
same configuration. Rows go through the domain functions, so they are what the
API or the importer would have written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.feeds import catalog
from syndicator.mail import subscriptions
from syndicator.models import Subscriber, WebhookEndpoint
from syndicator.posts import importer, store
from syndicator.webhooks import endpoints


class FakeClock:
    """A clock tests move by hand instead of sleeping or patching datetime."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


def build_core(config: config_module.Config, clock: FakeClock) -> core_module.Core:
    """A core on the config's database, migrated to the newest schema (SQLite or PostgreSQL)."""
    core = core_module.build(config, clock=clock)
    db.upgrade(core.engine)
    return core


def import_folder(core: core_module.Core, folder: Path) -> importer.SyncReport:
    """Import a content folder now, as `syndicator import` would."""
    with core.transaction() as session:
        return importer.sync(session, folder, core.timezone, core.now())


def add_feed(core: core_module.Core, slug: str = "news", **settings: Any) -> str:
    """A feed row titled like the blog fixture's feeds ("News Feed"); its slug."""
    settings.setdefault("title", f"{slug.title()} Feed")
    with core.transaction() as session:
        catalog.upsert(session, slug, catalog.FeedSettings(**settings), core.now())
    return slug


def add_post(core: core_module.Core, title: str = "A post", feed: str = "news", **data: Any) -> int:
    """A post published now (unless `published_at` says otherwise); its id.

    The default body links to a relative path so tests can see links made absolute.
    """
    data.setdefault("published_at", core.now())
    data.setdefault("content_source", f"About {title}. [More](/more/)")
    with core.transaction() as session:
        post = store.create(
            session, feed, store.PostData(title=title, **data), store.Origin(), core.now()
        )
        return post.id


def add_endpoint(core: core_module.Core, url: str, **fields: Any) -> WebhookEndpoint:
    """A webhook endpoint; private targets allowed, since test receivers listen on 127.0.0.1."""
    with core.transaction() as session:
        return endpoints.create(session, {"url": url, **fields}, now=core.now(), allow_private=True)


def add_subscriber(
    core: core_module.Core,
    email: str = "ann@example.org",
    *,
    feed: str = "news",
    frequency: str = "daily",
    confirmed: bool = True,
) -> Subscriber:
    """A subscriber added as the admin would: confirmed, or with opt-in started."""
    request = subscriptions.Request(feed, email, frequency)
    with core.transaction() as session:
        return subscriptions.add(
            session, request, core.config, core.timezone, core.now(), confirmed=confirmed
        )
