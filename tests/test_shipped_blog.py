"""The blog the project ships: its content, and every feed it serves valid to the letter."""

import re

import feedcheck
import feedparser
import pytest
from factories import import_folder, shipped_blog

from syndicator.feeds import documents, formats
from syndicator.web import create_app

FEED = "from-the-waters"
ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json"


@pytest.fixture
def seeded(core, tmp_path):
    report = import_folder(core, shipped_blog(tmp_path / "shipped"))
    assert report.errors == []
    return create_app(core=core).test_client()


def test_the_feed_is_the_blog_from_the_seed(seeded):
    parsed = feedparser.parse(seeded.get(f"/{FEED}/atom.xml").data)
    assert parsed.feed.title == "From the Waters...."
    assert parsed.feed.subtitle.startswith('In the late 90\'s, I created "The Resume Dolphin"')
    assert "navigating the waters" in parsed.feed.subtitle
    assert parsed.feed.author == "The Resume Dolphin"
    assert parsed.feed.language == "en-US"


def test_the_first_post_keeps_its_paragraphs_quote_and_list(seeded):
    (entry,) = feedparser.parse(seeded.get(f"/{FEED}/atom.xml").data).entries
    assert entry.title == "Phone Tuning: When they Don\u2019t Call Back"
    assert entry.published_parsed[:3] == (2008, 4, 3)
    html = entry.content[0].value
    assert html.count("<p>") >= 7
    assert re.search(r"<blockquote>\s*<p>\u201cIt\u2019s not you; it\u2019s them!\u201d</p>", html)
    assert len(re.findall(r"<li>", html)) == 4
    assert "<li>Don\u2019t take it personally." in html
    assert html.rstrip().endswith("<p>It\u2019s truly their loss and not yours!</p>")


def test_the_home_page_shows_the_blog_and_its_location(seeded):
    html = seeded.get("/").get_data(as_text=True)
    assert "From the Waters...." in html
    assert "Tampa, FL, United States" in html
    assert f"/{FEED}/phone-tuning-when-they-dont-call-back/" in html


def served_listings(core):
    """Every (tag, page) listing of the seed feed, the way export walks them."""
    from syndicator.posts import store

    with core.reading() as session:
        tags = [None] + [slug for slug, _name in store.tags(session, FEED, core.now())]
        for tag in tags:
            yield documents.listing(
                session, FEED, tag=tag, number=1, per_page=core.config.feeds.items, now=core.now()
            )


@pytest.mark.parametrize("fmt", list(formats.FILENAMES))
def test_every_feed_of_the_shipped_blog_is_valid(seeded, core, fmt):
    checked = 0
    for listing in served_listings(core):
        doc = documents.feed_document(listing, fmt, core.urls, full_content=True)
        path = core.urls.feed_path(FEED, fmt, listing.tag)
        data = seeded.get(path, headers={"Accept": ACCEPT}).data
        assert feedcheck.problems(fmt, data, doc) == [], path
        if fmt != "json":
            assert feedparser.parse(data).bozo == 0
        checked += 1
    assert checked == 4  # the feed and its three tags


def test_paged_feeds_are_valid_on_every_page(blog, make_core):
    for number in range(1, 8):
        blog.post(f"p{number}", tags=["Tips"], date=f"2026-01-0{number}T00:00:00Z")
    core = make_core(feeds={"items": 3})
    import_folder(core, blog.root)
    client = create_app(core=core).test_client()
    with core.reading() as session:
        for tag in (None, "tips"):
            for number in (1, 2, 3):
                listing = documents.listing(
                    session, "news", tag=tag, number=number, per_page=3, now=core.now()
                )
                for fmt in formats.FILENAMES:
                    doc = documents.feed_document(listing, fmt, core.urls, full_content=True)
                    path = core.urls.feed_path("news", fmt, tag, number)
                    data = client.get(path, headers={"Accept": ACCEPT}).data
                    assert feedcheck.problems(fmt, data, doc) == [], path
