"""The files readers and crawlers look for at a site's root: OPML, sitemap, robots.txt.

Pure functions of the site map (`feeds.sitemap.walk`) and the URL builder, so
the server and `export` write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from lxml import etree

from syndicator.feeds.sitemap import FeedMap
from syndicator.urls import Urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
OPML_DOCS = "http://opml.org/spec2.opml"
# The most one sitemap file may hold (sitemaps.org): URLs, and bytes. Tests lower them.
SITEMAP_LIMIT = 50_000
SITEMAP_BYTES = 52_428_800
# Bytes of a pretty-printed urlset around its <loc> texts: per <url> (its <lastmod>
# included), and the XML declaration with the <urlset> element.
_URL_MARKUP = 90
_URLSET_MARKUP = 120
# Paths crawlers have no use for: the admin API, mail links, monitoring.
_PRIVATE = ("/api/", "/confirm/", "/unsubscribe/", "/healthz", "/metrics")


@dataclass(frozen=True)
class Sitemap:
    """/sitemap.xml, and the parts it names (/sitemap-1.xml …) when it is an index."""

    index: bytes
    parts: tuple[bytes, ...] = ()


def last_change(feeds: Sequence[FeedMap]) -> datetime | None:
    """When anything of any feed last changed (a title, a post, a deletion): Last-Modified."""
    return max((max(site.feed.changed_at, site.updated_at) for site in feeds), default=None)


def opml(feeds: Sequence[FeedMap], urls: Urls, site_title: str, default_feed: str) -> bytes:
    """An OPML 2.0 subscription list: each feed, then a folder of its tag feeds."""
    home = _feed_map(feeds, default_feed)
    title = home.feed.title if home else site_title
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    if (changed := last_change(feeds)) is not None:
        etree.SubElement(head, "dateModified").text = format_datetime(changed.astimezone(UTC))
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    for site in feeds:
        feed = site.feed
        atom, html = urls.feed(feed.slug, "atom"), urls.listing(feed.slug)
        outline = _subscription(body, feed.title, atom, html)
        if feed.subtitle:
            outline.set("description", feed.subtitle)
        if feed.language:
            outline.set("language", feed.language)
        tags = [page for page in site.listings if page.tag is not None and page.number == 1]
        if tags:
            folder = etree.SubElement(body, "outline", text=f"{feed.title}: tags")
            for page in tags:
                assert page.tag is not None and page.tag_name is not None
                _subscription(
                    folder,
                    f"{feed.title}: {page.tag_name}",
                    urls.feed(feed.slug, "atom", page.tag),
                    urls.listing(feed.slug, page.tag),
                )
    return _xml(root)


def _subscription(parent: etree._Element, text: str, xml_url: str, html_url: str) -> etree._Element:
    return etree.SubElement(
        parent, "outline", type="rss", text=text, title=text, xmlUrl=xml_url, htmlUrl=html_url
    )


def sitemap(feeds: Sequence[FeedMap], urls: Urls, default_feed: str) -> Sitemap:
    """A sitemaps.org urlset: home, every list page, tag page and post, with lastmod;
    each page under its canonical URL only.

    Past `SITEMAP_LIMIT` URLs (or `SITEMAP_BYTES`), a sitemap index naming parts of
    at most that many each, in the same order, each with its newest lastmod.
    """
    chunks = _chunks(_entries(feeds, urls, default_feed))
    if len(chunks) == 1:
        return Sitemap(_urlset(chunks[0]))
    root = _sitemap_root("sitemapindex")
    for number, chunk in enumerate(chunks, start=1):
        newest = max((lastmod for _loc, lastmod in chunk if lastmod is not None), default=None)
        _entry(root, "sitemap", urls.absolute(sitemap_part(number)), newest)
    return Sitemap(_xml(root), tuple(_urlset(chunk) for chunk in chunks))


def sitemap_part(number: int) -> str:
    """The path of the index's part `number` (from 1)."""
    return f"/sitemap-{number}.xml"


def paths(sitemap_parts: int) -> tuple[str, ...]:
    """Every site file's path, the sitemap's parts included: what the server answers at
    the root, and so what `export` writes."""
    parts = (sitemap_part(number) for number in range(1, sitemap_parts + 1))
    return ("/feeds.opml", "/sitemap.xml", *parts, "/robots.txt", "/favicon.ico")


def next_due(feeds: Sequence[FeedMap]) -> datetime | None:
    """When the first scheduled post of any feed comes due: the site files go stale then."""
    return min((site.next_due_at for site in feeds if site.next_due_at is not None), default=None)


_Entry = tuple[str, datetime | None]  # a page's URL and last change


def _entries(feeds: Sequence[FeedMap], urls: Urls, default_feed: str) -> Iterator[_Entry]:
    if _feed_map(feeds, default_feed) is None:  # else the home page is the feed's first page
        yield urls.home(), last_change(feeds)
    for site in feeds:
        slug = site.feed.slug
        for page in site.listings:
            yield urls.canonical_listing(default_feed, slug, page.tag, page.number), page.updated_at
        for post_slug, updated_at in site.posts:
            yield urls.post(slug, post_slug), updated_at


def _chunks(entries: Iterable[_Entry]) -> list[list[_Entry]]:
    """The entries in parts of at most SITEMAP_LIMIT URLs and SITEMAP_BYTES each."""
    chunks: list[list[_Entry]] = [[]]
    size = _URLSET_MARKUP
    for entry in entries:
        grows = len(escape(entry[0]).encode()) + _URL_MARKUP
        if chunks[-1] and (len(chunks[-1]) == SITEMAP_LIMIT or size + grows > SITEMAP_BYTES):
            chunks.append([])
            size = _URLSET_MARKUP
        chunks[-1].append(entry)
        size += grows
    return chunks


def _urlset(entries: Sequence[_Entry]) -> bytes:
    root = _sitemap_root("urlset")
    for loc, lastmod in entries:
        _entry(root, "url", loc, lastmod)
    return _xml(root)


def _sitemap_root(tag: str) -> etree._Element:
    # The default namespace: lxml-stubs types nsmap keys as str only.
    return etree.Element(f"{{{SITEMAP_NS}}}{tag}", nsmap={None: SITEMAP_NS})  # type: ignore[dict-item]


def _feed_map(feeds: Sequence[FeedMap], slug: str) -> FeedMap | None:
    return next((site for site in feeds if site.feed.slug == slug), None)


def _entry(root: etree._Element, tag: str, loc: str, lastmod: datetime | None) -> None:
    """A <url> of a urlset, or a <sitemap> of an index: where, and when it last changed."""
    element = etree.SubElement(root, f"{{{SITEMAP_NS}}}{tag}")
    etree.SubElement(element, f"{{{SITEMAP_NS}}}loc").text = loc
    if lastmod is not None:
        stamp = lastmod.astimezone(UTC).replace(microsecond=0).isoformat()
        etree.SubElement(element, f"{{{SITEMAP_NS}}}lastmod").text = stamp


def robots(urls: Urls) -> bytes:
    """Everything public is open to crawlers (feeds included); the sitemap is named."""
    lines = ["User-agent: *"]  # Disallow first: some crawlers take the first rule that matches
    lines += [f"Disallow: {urlsplit(urls.absolute(path)).path}" for path in _PRIVATE]
    lines += ["Allow: /", "", f"Sitemap: {urls.absolute('/sitemap.xml')}", ""]
    return "\n".join(lines).encode()


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
