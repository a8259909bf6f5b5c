"""Feeds over HTTP: formats, paging, validators, caching and content negotiation."""

import json
import time

import feedparser
import pytest
from factories import import_folder

from syndicator.web import create_app

FEED_READER = feedparser.http.ACCEPT_HEADER
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORMATS = {
    "atom.xml": "application/atom+xml; charset=utf-8",
    "rss.xml": "application/rss+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}


def write_posts(blog, count: int, **front) -> None:
    for number in range(1, count + 1):
        blog.post(
            f"post-{number:03d}",
            f"Body of post {number}.",
            title=f"Post {number}",
            date=f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00Z",
            **front,
        )


def client_for(core, blog):
    """A client of an app on `core`, with the blog folder imported."""
    import_folder(core, blog.root)
    return create_app(core=core).test_client()


def parse(client, url: str):
    response = client.get(url, headers={"Accept": FEED_READER})
    assert response.status_code == 200, url
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
    return parsed


@pytest.mark.parametrize("filename", FORMATS)
def test_every_format_has_its_media_type_and_caching_headers(blog, sync, client, filename):
    write_posts(blog, 2)
    sync()
    response = client.get(f"/news/{filename}", headers={"Accept": FEED_READER})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FORMATS[filename]
    assert response.headers["ETag"].startswith('"')
    assert not response.headers["ETag"].startswith("W/")
    assert response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Accept" in response.headers["Vary"]


def test_atom_entries_match_the_stored_posts_field_by_field(blog, sync, client, core):
    blog.post(
        "hello",
        "Hello [relative](../other/) and ![pic](img/a.png).",
        title="Hello <World> ]]>",
        date="2026-03-04T05:06:07Z",
        author="Ann Author",
        tags=["Job Search", "Tips"],
        summary="A short summary.",
    )
    sync()
    parsed = parse(client, "/news/atom.xml")
    (entry,) = parsed.entries
    with core.reading() as session:
        from syndicator.posts import store

        stored = store.find_visible(session, "news", "hello", core.now())
    assert entry.id == stored.guid
    assert entry.title == "Hello <World> ]]>"
    assert entry.link == "http://127.0.0.1:8000/news/hello/"
    assert entry.author == "Ann Author"
    assert [tag.term for tag in entry.tags] == ["Job Search", "Tips"]
    assert entry.summary == "A short summary."
    assert entry.published == "2026-03-04T05:06:07Z" or entry.published_parsed[:6] == (
        2026,
        3,
        4,
        5,
        6,
        7,
    )
    html = entry.content[0].value
    assert 'href="http://127.0.0.1:8000/news/other/"' in html
    assert 'src="http://127.0.0.1:8000/news/hello/img/a.png"' in html
    assert parsed.feed.title == "News Feed"
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == ["http://127.0.0.1:8000/news/atom.xml"]


def test_rss_guid_is_the_same_id_and_not_a_permalink(blog, sync, client):
    blog.post("hello")
    sync()
    atom = parse(client, "/news/atom.xml").entries[0]
    response = client.get("/news/rss.xml", headers={"Accept": FEED_READER})
    assert b'<guid isPermaLink="false">' + atom.id.encode() + b"</guid>" in response.data
    rss = feedparser.parse(response.data).entries[0]
    assert rss.id == atom.id
    assert rss.link == atom.link


def test_json_feed_has_the_required_fields_and_the_same_ids(blog, sync, client):
    write_posts(blog, 3)
    sync()
    body = json.loads(client.get("/news/feed.json").data)
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert body["title"] == "News Feed"
    assert body["feed_url"] == "http://127.0.0.1:8000/news/feed.json"
    atom_ids = [entry.id for entry in parse(client, "/news/atom.xml").entries]
    assert [item["id"] for item in body["items"]] == atom_ids
    assert len(atom_ids) == 3  # so the loop below checks every post
    for item in body["items"]:
        assert item.get("content_html") or item.get("content_text") is not None


def test_entries_are_newest_first(blog, sync, client):
    write_posts(blog, 5)
    sync()
    titles = [entry.title for entry in parse(client, "/news/atom.xml").entries]
    assert titles == ["Post 5", "Post 4", "Post 3", "Post 2", "Post 1"]


@pytest.mark.parametrize("filename", ["atom.xml", "rss.xml"])
def test_paging_links_lead_through_every_post_exactly_once(blog, sync, make_core, filename):
    write_posts(blog, 12)
    client = client_for(make_core(feeds={"items": 5}), blog)
    url, seen, pages = f"http://127.0.0.1:8000/news/{filename}", [], 0
    first = parse(client, url)
    links = {link.rel: link.href for link in first.feed.links}
    assert links["first"] == url
    assert links["last"] == "http://127.0.0.1:8000/news/page/3/" + filename
    while url:
        parsed = parse(client, url)
        seen += [entry.title for entry in parsed.entries]
        pages += 1
        links = {link.rel: link.href for link in parsed.feed.links}
        if pages > 1:
            assert "previous" in links
        url = links.get("next")
    assert pages == 3
    assert seen == [f"Post {number}" for number in range(12, 0, -1)]


def test_json_feed_next_url_pages_to_the_end(blog, make_core):
    write_posts(blog, 7)
    client = client_for(make_core(feeds={"items": 3}), blog)
    url, ids, feed_urls = "/news/feed.json", [], set()
    while url:
        body = json.loads(client.get(url).data)
        ids += [item["id"] for item in body["items"]]
        feed_urls.add(body["feed_url"])
        url = body.get("next_url", "").replace("http://127.0.0.1:8000", "")
    assert len(ids) == len(set(ids)) == 7
    assert feed_urls == {"http://127.0.0.1:8000/news/feed.json"}  # the feed's own, on every page


def test_page_one_redirects_to_the_bare_url_and_past_the_end_is_404(blog, sync, client):
    write_posts(blog, 2)
    sync()
    response = client.get("/news/page/1/atom.xml")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/news/atom.xml")
    assert client.get("/news/page/2/atom.xml").status_code == 404
    assert client.get("/news/page/0/rss.xml").status_code == 404


def test_unknown_feed_tag_or_page_is_a_404_page(blog, sync, client):
    blog.post("hello", tags=["Known"])
    sync()
    for url in ("/nope/atom.xml", "/news/tags/unknown/rss.xml", "/news/page/9/feed.json"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Traceback" not in response.data
        assert b"Not found" in response.data


def test_tag_feed_holds_only_that_tags_posts(blog, sync, client):
    blog.post("a", tags=["Job Search"], date="2026-01-01T00:00:00Z")
    blog.post("b", tags=["Other"], date="2026-01-02T00:00:00Z")
    sync()
    parsed = parse(client, "/news/tags/job-search/atom.xml")
    assert [entry.title for entry in parsed.entries] == ["A"]
    assert parsed.feed.title == "News Feed: Job Search"


def test_if_none_match_and_if_modified_since_answer_304(blog, sync, client):
    blog.post("hello")
    sync()
    first = client.get("/news/atom.xml")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    by_etag = client.get("/news/atom.xml", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.data == b""
    assert by_etag.headers["ETag"] == etag
    by_date = client.get("/news/atom.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    stale = client.get("/news/atom.xml", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_head_answers_headers_without_a_body(blog, sync, client):
    blog.post("hello")
    sync()
    get = client.get("/news/rss.xml")
    head = client.head("/news/rss.xml")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_a_change_gives_a_new_etag_and_the_new_content(blog, sync, client, clock):
    blog.post("hello", "First text.")
    sync()
    before = client.get("/news/atom.xml")
    clock.advance(minutes=1)
    blog.post("hello", "Second text.")
    sync()
    after = client.get("/news/atom.xml", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert b"Second text." in after.data
    assert after.headers["ETag"] != before.headers["ETag"]


def test_browser_gets_a_readable_preview_and_feed_reader_gets_the_feed(blog, sync, client):
    blog.post("hello")
    sync()
    browser = client.get("/news/atom.xml", headers={"Accept": BROWSER})
    assert browser.headers["Content-Type"].startswith("text/html")
    assert b"feed reader" in browser.data
    assert b"http://127.0.0.1:8000/news/atom.xml" in browser.data
    assert b"xml-stylesheet" not in browser.data
    assert "Accept" in browser.headers["Vary"]
    shouted = client.get("/news/atom.xml", headers={"Accept": "TEXT/HTML"})  # any case (RFC 9110)
    assert shouted.headers["Content-Type"].startswith("text/html")
    for accept in (FEED_READER, "*/*", "application/atom+xml", "TEXT/HTML;q=0.1, */*", None):
        headers = {"Accept": accept} if accept else {}
        response = client.get("/news/atom.xml", headers=headers)
        assert response.headers["Content-Type"].startswith("application/atom+xml"), accept


def test_scheduled_post_appears_in_the_feed_when_due_without_a_tick(blog, sync, client, clock):
    blog.post("now", date="2026-11-26T11:00:00Z")
    blog.post("later", date="2026-11-26T12:30:00Z")
    sync()
    titles = [entry.title for entry in parse(client, "/news/atom.xml").entries]
    assert titles == ["Now"]
    assert client.get("/news/later/").status_code == 404
    clock.advance(minutes=31)
    titles = [entry.title for entry in parse(client, "/news/atom.xml").entries]
    assert titles == ["Later", "Now"]
    assert client.get("/news/later/").status_code == 200


def test_drafts_are_invisible_everywhere(blog, sync, client):
    blog.post("public")
    blog.post("secret", draft=True, tags=["hidden-tag"])
    sync()
    assert [e.title for e in parse(client, "/news/atom.xml").entries] == ["Public"]
    assert client.get("/news/secret/").status_code == 404
    assert client.get("/news/tags/hidden-tag/atom.xml").status_code == 404
    assert b"Secret" not in client.get("/news/").data


def test_deleted_post_leaves_the_feed_and_its_page_answers_410(blog, sync, client):
    path = blog.post("hello")
    blog.post("stays", date="2026-01-02T00:00:00Z")
    sync()
    client.get("/news/atom.xml")
    path.unlink()
    sync()
    assert [e.title for e in parse(client, "/news/atom.xml").entries] == ["Stays"]
    assert client.get("/news/hello/").status_code == 410


def test_feed_is_rendered_once_and_then_served_from_cache(blog, sync, client, core):
    blog.post("hello")
    sync()
    for _ in range(5):
        client.get("/news/atom.xml")
    assert core.metrics.feed_renders.labels("atom")._value.get() == 1
    assert core.metrics.cache_hits._value.get() == 4


def test_change_through_another_process_is_served_within_a_second(blog, sync, client, make_core):
    blog.post("first")
    sync()
    assert len(parse(client, "/news/atom.xml").entries) == 1
    other_process = make_core()
    blog.post("second", date="2026-01-02T00:00:00Z")
    import_folder(other_process, blog.root)
    deadline = time.monotonic() + 1.0
    while len(parse(client, "/news/atom.xml").entries) != 2:
        assert time.monotonic() < deadline, "the other process's change was not served in 1 s"
        time.sleep(0.05)


def test_full_content_off_publishes_summaries_only(blog, make_core):
    blog.post("hello", "The whole long body text.")
    client = client_for(make_core(feeds={"full_content": False}), blog)
    entry = parse(client, "/news/atom.xml").entries[0]
    assert "content" not in entry
    assert entry.summary == "The whole long body text."


def test_feed_language_becomes_xml_lang(blog, sync, client):
    blog.feed("news", language="en-US")
    blog.post("hello")
    sync()
    assert b'xml:lang="en-US"' in client.get("/news/atom.xml").data
