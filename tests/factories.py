"""The one way tests build a core and the rows they start from.

conftest's fixtures (`make_core`, `make_feed`, `make_post`, `make_endpoint`,
`make_subscriber`) wrap these for the test's own core and clock; call them
directly only where no fixture can reach, e.g. a second worker process on the
same configuration. Rows go through the domain functions, so they are what the
API or the importer would have written.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.delivery import ssrf
from syndicator.feeds import catalog
from syndicator.mail import subscriptions
from syndicator.models import Subscriber, WebhookEndpoint
from syndicator.posts import importer, store
from syndicator.webhooks import endpoints

# The blog the project ships. Authors add posts to feeds/ as the README says; tests take
# only the shipped files, so what they assert holds whatever else the folder holds.
SHIPPED_FEED = Path(__file__).resolve().parent.parent / "feeds" / "from-the-waters"
SHIPPED_POST = "2008-04-03-phone-tuning-when-they-dont-call-back.md"
SHIPPED_TITLE = "Phone Tuning: When they Don\u2019t Call Back"


def shipped_blog(root: Path) -> Path:
    """A content folder at `root` holding the shipped blog exactly as it ships; `root`."""
    posts = root / SHIPPED_FEED.name / "posts"
    posts.mkdir(parents=True)
    shutil.copy(SHIPPED_FEED / "feed.toml", posts.parent / "feed.toml")
    shutil.copy(SHIPPED_FEED / "posts" / SHIPPED_POST, posts / SHIPPED_POST)
    return root


class FakeClock:
    """A clock tests move by hand instead of sleeping or patching datetime."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


class DNSLookupInTest(AssertionError):
    """A test asked the system resolver about a real name: tests must make no DNS query."""


class FakeResolver:
    """The names a test uses, each mapped to an address it chooses; others do not exist.

    Tests make no DNS query (conftest's `no_dns`): every core gets one of these as
    the SSRF guard's resolver. `localhost` and IP literals resolve as usual.
    """

    def __init__(self, **names: str) -> None:
        self.names = {"example.com": "93.184.216.34", **names}

    def __call__(self, host: str, port: int) -> list[ssrf.IPAddress]:
        if is_local_name(host):
            return ssrf.system_resolver(host, port)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a name this test knows")
        return [ipaddress.ip_address(self.names[host])]


def is_local_name(host: object) -> bool:
    """Names the system resolves without DNS: localhost and IP literals (0x7f.1 too)."""
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name.lower() in ("localhost", "localhost."):
        return True
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        try:
            socket.inet_aton(name)  # numeric forms getaddrinfo also takes
        except OSError:
            return False
    return True


def build_core(
    config: config_module.Config, clock: FakeClock, resolver: ssrf.Resolver | None = None
) -> core_module.Core:
    """A core on the config's database, migrated to the newest schema (SQLite or PostgreSQL).

    Webhook hosts resolve through `resolver` (a `FakeResolver()` unless given).
    """
    core = core_module.build(config, clock=clock, resolver=resolver or FakeResolver())
    db.upgrade(core.engine)
    return core


def import_folder(core: core_module.Core, folder: Path) -> importer.SyncReport:
    """Import a content folder now, as `syndicator import` would."""
    return importer.sync(core, folder)


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
