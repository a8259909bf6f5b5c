"""Absolute URLs of everything the service publishes, built from `[site] base_url`.

Feeds, pages, mail and webhooks all link through here, so a permalink is the
same string wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from syndicator.feeds.formats import FILENAMES


@dataclass(frozen=True)
class Urls:
    base_url: str
    also_hubs: tuple[str, ...] = ()  # external hubs a publisher names too (`[websub] also_ping`)

    def absolute(self, path: str) -> str:
        """The URL of a path on this site: never from a request's Host header."""
        return self.base_url.rstrip("/") + path

    def home(self) -> str:
        return self.absolute("/")

    def listing_path(self, feed: str, tag: str | None = None, page: int = 1) -> str:
        """The path of an HTML list: a feed or a tag, page 1 being the bare URL."""
        path = f"/{feed}/" if tag is None else f"/{feed}/tags/{quote(tag, safe='')}/"
        return path if page == 1 else f"{path}page/{page}/"

    def listing(self, feed: str, tag: str | None = None, page: int = 1) -> str:
        return self.absolute(self.listing_path(feed, tag, page))

    def canonical_listing(
        self, default_feed: str, feed: str, tag: str | None = None, page: int = 1
    ) -> str:
        """The one URL a list page is known by (link previews, the sitemap): the home
        page stands for the default feed's first page, which it shows."""
        if feed == default_feed and tag is None and page == 1:
            return self.home()
        return self.listing(feed, tag, page)

    def feed_path(self, feed: str, fmt: str, tag: str | None = None, page: int = 1) -> str:
        return self.listing_path(feed, tag, page) + FILENAMES[fmt]

    def feed(self, feed: str, fmt: str, tag: str | None = None, page: int = 1) -> str:
        return self.absolute(self.feed_path(feed, fmt, tag, page))

    def post_path(self, feed: str, slug: str) -> str:
        return f"/{feed}/{slug}/"

    def post(self, feed: str, slug: str) -> str:
        return self.absolute(self.post_path(feed, slug))

    def media_path(self, feed: str, name: str) -> str:
        """A file of the feed's media folder."""
        return f"/{feed}/media/{quote(name)}"

    def media(self, feed: str, name: str) -> str:
        return self.absolute(self.media_path(feed, name))

    def bundle_file_path(self, feed: str, slug: str, name: str) -> str:
        """A file beside a post's index.md, served under the post's page."""
        return self.post_path(feed, slug) + quote(name)

    def hub(self) -> str:
        """The WebSub hub of every feed this service serves."""
        return self.absolute("/websub")

    def hubs(self) -> tuple[str, ...]:
        """Every hub a topic names: ours first, then the external ones pinged too."""
        return (self.hub(), *self.also_hubs)

    def hub_links(self, topic: str) -> str:
        """The Link header of a WebSub topic and of its notifications: hubs and self."""
        hubs = "".join(f'<{hub}>; rel="hub", ' for hub in self.hubs())
        return f'{hubs}<{topic}>; rel="self"'

    def confirm(self, token: str) -> str:
        """The page a confirmation mail links to."""
        return self.absolute(f"/confirm/{quote(token, safe='')}")

    def unsubscribe(self, token: str) -> str:
        """The page (and RFC 8058 one-click target) every mail's unsubscribe link points at."""
        return self.absolute(f"/unsubscribe/{quote(token, safe='')}")
