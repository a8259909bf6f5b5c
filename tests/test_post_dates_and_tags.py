# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Dates every time zone can show, and tags in any script, from the API and from files."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import feedcheck
import pytest
from api_support import TOKEN, api  # noqa: F401
from sqlalchemy import update

from syndicator.mail import compose
from syndicator.models import Feed, Post

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# An admin token, and a site west of UTC, where year 1 has no local time.
pytestmark = pytest.mark.config(site={"timezone": "America/New_York"}, admin={"token": TOKEN})


@pytest.mark.parametrize(
    "published",
    [
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "9999-12-31T23:00:00Z",
        "0001-01-01T09:00:00+09:00",
    ],
)
def test_a_date_outside_every_time_zone_is_422_saying_so(api, published):
    response = api.post("/api/feeds/news/posts", json={"title": "Old", "published": published})
    assert response.status_code == 422
    assert "every time zone" in response.get_json()["error"]["fields"]["published"]
    assert api.get("/api/feeds/news/posts").get_json()["items"] == []


def test_the_ends_of_the_range_are_accepted(api):
    for published in ("1900-01-01T00:00:00Z", "9999-12-30T23:59:59Z"):
        assert api.create(title=published, published=published)["published"] == published


def test_a_post_file_with_such_a_date_is_reported_and_the_others_import(api, blog, sync):
    blog.post("ancient", date="0001-01-01T00:00:00Z")
    blog.post("fine")
    report = sync()
    (error,) = report.errors
    assert error.path.endswith("ancient.md") and "every time zone" in error.reason
    titles = [item["title"] for item in api.get("/api/feeds/news/posts").get_json()["items"]]
    assert titles == ["Fine"]


def test_a_stored_post_from_year_one_still_renders_everywhere(api, core):
    post = api.create(title="Stored long ago", tags=["old"])
    with core.transaction() as session:  # as written before the range was enforced
        at = datetime(1, 1, 1, tzinfo=UTC)
        session.execute(update(Post).where(Post.id == post["id"]).values(published_at=at))
    client = api.client
    for path in ("/news/", "/news/stored-long-ago/", "/news/tags/old/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert b"Stored long ago" in page.data, path
        assert b"January 1, 1" in page.data, path  # shown in UTC when local time cannot be
    preview = client.get("/news/atom.xml", headers={"Accept": BROWSER})
    assert preview.status_code == 200 and b"Stored long ago" in preview.data
    (entry,) = feedcheck.read_back(client.get("/news/atom.xml").data).entries
    assert entry.title == "Stored long ago"
    assert api.get(f"/api/posts/{post['id']}").get_json()["published"] == "0001-01-01T00:00:00Z"
    with core.reading() as session:
        letterhead = compose.Letterhead.from_config(core.config, core.timezone)
        found = session.get_one(Post, post["id"])
        item = compose.item(found, session.get_one(Feed, "news"), letterhead)
    assert "January 1, 1" in item.text.decode()


TAGS = ["日本語", "中文", "Русский язык", "Sea"]


def test_tags_in_any_script_are_kept_with_readable_slugs(api):
    post = api.create(title="Tagged", tags=TAGS)
    assert post["tags"] == TAGS
    assert api.get(f"/api/posts/{post['id']}").get_json()["tags"] == TAGS
    found = api.get("/api/feeds/news/posts", query_string={"tag": "日本語"}).get_json()["items"]
    assert [item["id"] for item in found] == [post["id"]]


@pytest.mark.parametrize(("tag", "slug"), [("日本語", "日本語"), ("Русский язык", "русский-язык")])
def test_a_tag_page_and_tag_feed_work_for_a_tag_without_ascii_letters(api, tag, slug):
    api.create(title="Tagged", tags=TAGS)
    api.create(title="Untagged")
    base = f"/news/tags/{quote(slug)}/"
    page = api.client.get(base)
    assert page.status_code == 200
    assert tag in page.get_data(as_text=True)
    assert "Tagged" in page.get_data(as_text=True)
    assert "Untagged" not in page.get_data(as_text=True)
    feed = feedcheck.read_back(api.client.get(base + "atom.xml").data)
    assert [entry.title for entry in feed.entries] == ["Tagged"]
    assert feed.feed.link.endswith(base)  # links are percent-encoded URLs
    terms = {tag.term for tag in feed.entries[0].tags}
    assert terms == set(TAGS)


def test_file_tags_without_ascii_letters_are_kept_too(api, blog, sync):
    blog.post("from-file", tags=TAGS)
    assert sync().errors == []
    (item,) = api.get("/api/feeds/news/posts").get_json()["items"]
    assert item["tags"] == TAGS
