# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Site files readers and crawlers fetch: /feeds.opml, /sitemap.xml, /robots.txt, /favicon.ico."""

from __future__ import annotations

import email.utils
import time
import urllib.robotparser
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import urlsplit

import feedparser
import pytest
import requests
from api_support import live_server  # noqa: F401  (a fixture)
from lxml import etree

from syndicator.feeds import sitefiles
from syndicator.web import create_app

BASE = "http://127.0.0.1:8000"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SITE_FILES = ["/feeds.opml", "/sitemap.xml", "/robots.txt", "/favicon.ico"]
PARTS = ["/sitemap-1.xml", "/sitemap-2.xml", "/sitemap-3.xml"]  # at a limit of 4 URLs
pytestmark = pytest.mark.config(site={"default_feed": "news"}, feeds={"items": 2})


@pytest.fixture
def site(blog, sync):
    """Two feeds; news has three posts over two pages, two tags, a draft and a scheduled post."""
    blog.feed("news", title="News & Views", subtitle="Notes <from> the desk", language="en")
    blog.post("one", tags=["Alpha"], date="2026-01-01T09:00:00Z")
    blog.post("two", tags=["Alpha", "Beta Ray"], date="2026-01-02T09:00:00Z")
    blog.post("three", date="2026-01-03T09:00:00Z", updated="2026-02-01T10:30:00Z")
    blog.post("hidden", draft=True)
    blog.post("later", date="2026-12-01T00:00:00Z", tags=["Future"])
    blog.post("hello", feed="other", date="2026-01-05T09:00:00Z")
    sync()


def test_opml_lists_every_feed_and_tag_feed_for_a_reader_to_import(site, client):
    response = client.get("/feeds.opml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    root = etree.fromstring(response.data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    head, body = root.find("head"), root.find("body")
    assert head.findtext("title") == "News & Views"  # the blog's name, not "syndicator"
    assert head.findtext("docs") == "http://opml.org/spec2.opml"
    assert email.utils.parsedate_to_datetime(head.findtext("dateModified")).tzinfo is not None
    outlines = body.findall(".//outline")
    assert all(outline.get("text") for outline in outlines)  # OPML 2.0: text is required
    subscriptions = {o.get("text"): o for o in outlines if o.get("type") == "rss"}
    assert {text: o.get("xmlUrl") for text, o in subscriptions.items()} == {
        "News & Views": f"{BASE}/news/atom.xml",
        "News & Views: Alpha": f"{BASE}/news/tags/alpha/atom.xml",
        "News & Views: Beta Ray": f"{BASE}/news/tags/beta-ray/atom.xml",
        "Other Feed": f"{BASE}/other/atom.xml",
    }
    assert subscriptions["News & Views"].get("htmlUrl") == f"{BASE}/news/"
    assert subscriptions["News & Views"].get("description") == "Notes <from> the desk"
    for outline in subscriptions.values():
        parsed = feedparser.parse(client.get(urlsplit(outline.get("xmlUrl")).path).data)
        assert not parsed.bozo and parsed.entries, outline.get("xmlUrl")


def test_sitemap_names_every_page_with_its_last_change(site, client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(response.data)
    assert root.tag == f"{SITEMAP}urlset"
    entries = {
        url.findtext(f"{SITEMAP}loc"): url.findtext(f"{SITEMAP}lastmod")
        for url in root.iter(f"{SITEMAP}url")
    }
    paths = {urlsplit(loc).path for loc in entries}
    assert paths == {
        "/",  # and not /news/, which shows the same and names / as its canonical URL
        "/news/page/2/",
        "/news/one/",
        "/news/two/",
        "/news/three/",
        "/news/tags/alpha/",
        "/news/tags/beta-ray/",
        "/other/",
        "/other/hello/",
    }
    assert entries[f"{BASE}/news/three/"] == "2026-02-01T10:30:00+00:00"
    assert entries[f"{BASE}/"] == "2026-02-01T10:30:00+00:00"  # its newest post
    assert entries[f"{BASE}/news/page/2/"] == "2026-01-01T09:00:00+00:00"
    assert all(datetime.fromisoformat(stamp).tzinfo for stamp in entries.values())
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_a_scheduled_post_enters_the_warm_site_files_when_due(site, client, clock, core):
    for _ in range(2):
        assert b"/news/later/" not in client.get("/sitemap.xml").data
        assert b"/news/tags/future/" not in client.get("/feeds.opml").data
    assert renders(core, "sitemap") == renders(core, "opml") == 1
    clock.advance(days=5)
    data = client.get("/sitemap.xml").data
    assert b"/news/later/" in data and b"/news/tags/future/" in data
    assert b"/news/tags/future/atom.xml" in client.get("/feeds.opml").data


def locs(document: bytes, tag: str = "url") -> list[str]:
    root = etree.fromstring(document)
    return [url.findtext(f"{SITEMAP}loc") for url in root.iter(f"{SITEMAP}{tag}")]


def every_url(client) -> list[str]:
    """The URLs of every part the sitemap names (or of the sitemap, when it is one urlset)."""
    index = client.get("/sitemap.xml").data
    parts = [client.get(urlsplit(loc).path).data for loc in locs(index, "sitemap")]
    return [loc for part in parts or [index] for loc in locs(part)]


def lastmods(document: bytes, tag: str = "url") -> list[str]:
    root = etree.fromstring(document)
    return [url.findtext(f"{SITEMAP}lastmod") for url in root.iter(f"{SITEMAP}{tag}")]


def renders(core, kind: str) -> float:
    """The Prometheus count of renders (cache misses) of one kind of document."""
    return core.metrics.feed_renders.labels(kind)._value.get()


def test_past_the_limit_the_sitemap_is_an_index_of_its_parts(site, client, make_core, monkeypatch):
    single = client.get("/sitemap.xml").data
    assert len(locs(single)) == 9
    monkeypatch.setattr(sitefiles, "SITEMAP_LIMIT", 4)
    client = create_app(core=make_core()).test_client()  # a server started with the limit
    index = client.get("/sitemap.xml")
    assert index.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(index.data)
    assert root.tag == f"{SITEMAP}sitemapindex"
    named = locs(index.data, "sitemap")
    assert named == [f"{BASE}/sitemap-{number}.xml" for number in (1, 2, 3)]
    parts, newest = [], []
    for loc in named:
        part = client.get(urlsplit(loc).path)
        assert part.status_code == 200 and part.headers["ETag"] != index.headers["ETag"]
        assert etree.fromstring(part.data).tag == f"{SITEMAP}urlset"
        parts.append(locs(part.data))
        newest.append(max(lastmods(part.data)))  # one form (UTC, to the second): sortable
    assert [len(part) for part in parts] == [4, 4, 1]
    assert [loc for part in parts for loc in part] == locs(single)  # each once, in order
    assert lastmods(index.data, "sitemap") == newest
    for number in (0, 4, 99):
        assert client.get(f"/sitemap-{number}.xml").status_code == 404


def test_at_the_limit_the_sitemap_is_the_one_urlset_it_always_was(
    site, client, make_core, monkeypatch
):
    single = client.get("/sitemap.xml").data
    monkeypatch.setattr(sitefiles, "SITEMAP_LIMIT", 9)  # the site's URLs, exactly
    client = create_app(core=make_core()).test_client()
    assert client.get("/sitemap.xml").data == single
    assert client.get("/sitemap-1.xml").status_code == 404


def test_no_part_of_the_sitemap_is_larger_than_the_byte_limit(site, client, make_core, monkeypatch):
    single = client.get("/sitemap.xml").data
    monkeypatch.setattr(sitefiles, "SITEMAP_BYTES", 600)
    client = create_app(core=make_core()).test_client()
    named = locs(client.get("/sitemap.xml").data, "sitemap")
    assert len(named) > 2
    assert all(len(client.get(urlsplit(loc).path).data) <= 600 for loc in named)
    assert every_url(client) == locs(single)


def test_site_files_render_once_per_change_and_show_another_process_s_within_a_second(
    site, client, core, make_core, make_post, monkeypatch
):
    monkeypatch.setattr(sitefiles, "SITEMAP_LIMIT", 4)
    etags = {path: client.get(path).headers["ETag"] for path in SITE_FILES + PARTS}
    for path in SITE_FILES + PARTS:
        assert client.get(path, headers={"If-None-Match": etags[path]}).status_code == 304
    assert renders(core, "sitemap") == renders(core, "opml") == 1

    elsewhere = make_core()  # another process's: this one learns of its write from the database
    make_post("From elsewhere", tags=["Gamma"], core=elsewhere)
    deadline = time.monotonic() + 1.0
    while f"{BASE}/news/from-elsewhere/" not in every_url(client):
        assert time.monotonic() < deadline, "the other process's post was not shown in 1 s"
        time.sleep(0.05)
    assert b"/news/tags/gamma/atom.xml" in client.get("/feeds.opml").data
    changed = client.get("/sitemap.xml", headers={"If-None-Match": etags["/sitemap.xml"]})
    assert changed.status_code == 200
    assert renders(core, "sitemap") == renders(core, "opml") == 2


def test_a_burst_of_requests_on_a_cold_sitemap_walks_once(site, live_server, core):
    def fetch(_: int) -> requests.Response:
        return requests.get(f"{live_server}/sitemap.xml", timeout=10)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, range(16)))
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert renders(core, "sitemap") == 1


def test_robots_txt_lets_crawlers_read_pages_and_feeds_and_names_the_sitemap(site, client):
    response = client.get("/robots.txt")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(response.get_data(as_text=True).splitlines())
    assert robots.site_maps() == [f"{BASE}/sitemap.xml"]
    for path in ("/", "/news/", "/news/one/", "/news/atom.xml", "/news/tags/alpha/rss.xml"):
        assert robots.can_fetch("ExampleBot", BASE + path), path
    for path in ("/api/feeds/news/posts", "/confirm/abc", "/unsubscribe/abc", "/metrics"):
        assert not robots.can_fetch("ExampleBot", BASE + path), path


def test_favicon_is_the_built_in_icon_when_the_feed_names_none(site, client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_favicon_is_the_feeds_own_icon_file(blog, sync, client):
    folder = blog.feed("news", icon="logo.png")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    sync()
    response = client.get("/favicon.ico")
    assert response.headers["Content-Type"] == "image/png"
    assert response.data == b"\x89PNG\r\n\x1a\nnot really"


def test_favicon_never_serves_a_file_outside_the_feeds_folder(blog, sync, client):
    blog.feed("news", icon="../../config.toml")
    (blog.root.parent / "config.toml").write_text("[admin]\ntoken = 'secret'\n")
    sync()
    response = client.get("/favicon.ico")
    assert response.data[:4] == b"\x00\x00\x01\x00"


def test_favicon_redirects_to_an_icon_url(blog, sync, client):
    blog.feed("news", icon="https://cdn.example.org/icon.png")
    sync()
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://cdn.example.org/icon.png"


@pytest.mark.parametrize("path", SITE_FILES + PARTS)
def test_site_files_are_cacheable_and_answer_304(site, client, path, monkeypatch):
    monkeypatch.setattr(sitefiles, "SITEMAP_LIMIT", 4)
    first = client.get(path)
    assert first.status_code == 200  # not the redirect to a 404 page they used to be
    assert first.headers["ETag"].startswith('"')
    assert first.headers["Cache-Control"] == "public, max-age=300"
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == first.headers["ETag"]


def test_a_deleted_post_is_a_change_even_for_if_modified_since(site, blog, sync, client, clock):
    first = client.get("/sitemap.xml")
    clock.advance(minutes=1)
    (blog.root / "news" / "posts" / "one.md").unlink()
    sync()
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    for path in ("/sitemap.xml", "/feeds.opml"):
        again = client.get(path, headers=since)
        assert again.status_code == 200, path
    assert b"/news/one/" not in client.get("/sitemap.xml").data


def test_a_new_post_changes_the_sitemap_etag(site, blog, sync, client, clock):
    before = client.get("/sitemap.xml").headers["ETag"]
    clock.advance(minutes=1)
    blog.post("four", date="2026-01-04T09:00:00Z")
    sync()
    after = client.get("/sitemap.xml", headers={"If-None-Match": before})
    assert after.status_code == 200 and b"/news/four/" in after.data
