"""HTML pages: lists, permalinks, tags, autodiscovery, friendly errors."""

import re

import pytest


def alternate_links(html: bytes) -> list[tuple[str, str]]:
    return re.findall(rb'<link rel="alternate" type="([^"]+)"[^>]*href="([^"]+)"', html)


@pytest.fixture
def posts(blog, sync):
    for number in range(1, 4):
        blog.post(
            f"post-{number}",
            f"Body **{number}** with <script>alert(1)</script> and [x](javascript:alert(1)).",
            title=f"Post {number}",
            date=f"2026-01-0{number}T09:00:00Z",
            tags=["Career Advice"],
        )
    sync()


def test_home_shows_the_default_feed_when_it_exists(blog, sync, make_core, client):
    blog.post("hello", feed="from-the-waters")
    sync()
    response = client.get("/")
    assert response.status_code == 200
    assert b"/from-the-waters/hello/" in response.data


def test_home_lists_feeds_when_the_default_feed_is_missing(posts, client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'href="/news/"' in response.data


def test_list_page_shows_posts_newest_first_with_links(posts, client):
    html = client.get("/news/").data
    positions = [html.index(f"/news/post-{n}/".encode()) for n in (3, 2, 1)]
    assert positions == sorted(positions)


def test_every_page_has_autodiscovery_for_all_three_formats(posts, client):
    for url in ("/news/", "/news/post-1/", "/news/tags/career-advice/"):
        types = [media for media, _href in alternate_links(client.get(url).data)]
        assert types == [b"application/atom+xml", b"application/rss+xml", b"application/feed+json"]
    tag_links = [href for _m, href in alternate_links(client.get("/news/tags/career-advice/").data)]
    assert tag_links[0] == b"http://127.0.0.1:8000/news/tags/career-advice/atom.xml"


def test_pages_link_the_feeds_in_a_subscribe_area(posts, client):
    html = client.get("/news/post-2/").data
    assert b'id="subscribe"' in html
    assert b"http://127.0.0.1:8000/news/rss.xml" in html


def test_post_page_is_sanitized(posts, client):
    html = client.get("/news/post-1/").data
    assert b"<strong>1</strong>" in html
    assert b"<script>alert" not in html
    assert not re.search(rb"(?:href|src)=\"javascript:", html)


def test_list_pages_are_paged(blog, make_core):
    from factories import import_folder

    from syndicator.web import create_app

    for number in range(1, 6):
        blog.post(f"p{number}", date=f"2026-01-0{number}T00:00:00Z")
    core = make_core(feeds={"items": 2})
    import_folder(core, blog.root)
    client = create_app(core=core).test_client()
    assert b"/news/page/2/" in client.get("/news/").data
    assert client.get("/news/page/3/").status_code == 200
    assert client.get("/news/page/4/").status_code == 404
    assert client.get("/news/page/1/").status_code == 301


def test_tag_page_lists_only_tagged_posts(blog, sync, client):
    blog.post("tagged", tags=["Interviews"])
    blog.post("untagged", date="2026-01-02T00:00:00Z")
    sync()
    html = client.get("/news/tags/interviews/").data
    assert b"/news/tagged/" in html
    assert b"/news/untagged/" not in html


@pytest.mark.parametrize(
    "url", ["/nope/", "/news/nope/", "/news/tags/nope/", "/news/page/99/", "/a/b/c/d/e/"]
)
def test_unknown_addresses_get_the_friendly_404_page(posts, client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert b"Not found" in response.data
    assert b"Traceback" not in response.data
    assert response.headers["Content-Type"].startswith("text/html")


def test_pages_work_on_a_phone_and_load_nothing_external(posts, client):
    html = client.get("/news/post-1/").data
    assert b'name="viewport"' in html
    assert not re.search(rb'<(?:link|script)[^>]+(?:href|src)="https?://(?!127\.0\.0\.1)', html)
    assert b"<script" not in html
