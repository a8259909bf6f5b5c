"""The files readers and crawlers look for at a site's root: OPML, sitemap, robots.txt.

Pure functions of the site map (`feeds.sitemap.walk`) and the URL builder, so
the server and `export` write the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from lxml import etree

from syndicator.feeds.sitemap import FeedMap
from syndicator.urls import Urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
OPML_DOCS = "http://opml.org/spec2.opml"
# Paths crawlers have no use for: the admin API, mail links, monitoring.
_PRIVATE = ("/api/", "/confirm/", "/unsubscribe/", "/healthz", "/metrics")


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


def sitemap(feeds: Sequence[FeedMap], urls: Urls, default_feed: str) -> bytes:
    """A sitemaps.org urlset: home, every list page, tag page and post, with lastmod;
    each page under its canonical URL only."""
    # The default namespace: lxml-stubs types nsmap keys as str only.
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})  # type: ignore[dict-item]
    if _feed_map(feeds, default_feed) is None:  # else the home page is the feed's first page
        _url(root, urls.home(), last_change(feeds))
    for site in feeds:
        slug = site.feed.slug
        for page in site.listings:
            url = urls.canonical_listing(default_feed, slug, page.tag, page.number)
            _url(root, url, page.updated_at)
        for post_slug, updated_at in site.posts:
            _url(root, urls.post(slug, post_slug), updated_at)
    return _xml(root)


def _feed_map(feeds: Sequence[FeedMap], slug: str) -> FeedMap | None:
    return next((site for site in feeds if site.feed.slug == slug), None)


def _url(root: etree._Element, loc: str, lastmod: datetime | None) -> None:
    url = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
    etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
    if lastmod is not None:
        stamp = lastmod.astimezone(UTC).replace(microsecond=0).isoformat()
        etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = stamp


def robots(urls: Urls) -> bytes:
    """Everything public is open to crawlers (feeds included); the sitemap is named."""
    lines = ["User-agent: *"]  # Disallow first: some crawlers take the first rule that matches
    lines += [f"Disallow: {urlsplit(urls.absolute(path)).path}" for path in _PRIVATE]
    lines += ["Allow: /", "", f"Sitemap: {urls.absolute('/sitemap.xml')}", ""]
    return "\n".join(lines).encode()


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
