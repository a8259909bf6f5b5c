"""Conditional GETs of feed URLs, as feed readers and caches send them (RFC 9110 §13)."""

from __future__ import annotations

import pytest


@pytest.fixture
def first(blog, sync, client):
    """A reader's first fetch: what it will send back next time."""
    blog.post("hello")
    sync()
    return client.get("/news/atom.xml")


def test_the_first_fetch_carries_every_validator_and_caching_header(first):
    assert first.status_code == 200
    assert first.headers["ETag"].startswith('"')
    assert first.headers["Last-Modified"].endswith(" GMT")
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert first.headers["Vary"] == "Accept"
    assert first.headers["Content-Length"] == str(len(first.data))


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"older", {etag}', "*"])
def test_any_matching_if_none_match_answers_304_with_its_caching_headers(client, first, form):
    etag = first.headers["ETag"]
    again = client.get("/news/atom.xml", headers={"If-None-Match": form.format(etag=etag)})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"
    assert again.headers["Vary"] == "Accept"


def test_a_stale_etag_wins_over_a_current_date(client, first):
    # A recipient must ignore If-Modified-Since when If-None-Match is present.
    headers = {"If-None-Match": '"older"', "If-Modified-Since": first.headers["Last-Modified"]}
    again = client.get("/news/atom.xml", headers=headers)
    assert again.status_code == 200
    assert again.data == first.data


def test_an_older_or_unreadable_date_gets_the_whole_feed(client, first):
    for since in ("Mon, 01 Jan 2001 00:00:00 GMT", "not a date"):
        again = client.get("/news/atom.xml", headers={"If-Modified-Since": since})
        assert again.status_code == 200
        assert again.data == first.data


def test_each_format_has_its_own_etag(client, first):
    rss = client.get("/news/rss.xml")
    assert rss.headers["ETag"] != first.headers["ETag"]
    crossed = client.get("/news/rss.xml", headers={"If-None-Match": first.headers["ETag"]})
    assert crossed.status_code == 200
