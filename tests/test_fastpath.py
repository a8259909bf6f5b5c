"""Warm feed and page hits answered before Flask: byte for byte what the Flask view answers."""

import logging

import pytest
from werkzeug.test import Client

from syndicator.web import feeds

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def warm(blog, sync, make_core):
    """An app whose feeds (main, a tag, page 2) were each fetched once."""
    from factories import import_folder

    from syndicator.web import create_app

    for number in range(1, 5):
        blog.post(f"p{number}", tags=["Tips"], date=f"2026-01-0{number}T00:00:00Z")
    core = make_core(feeds={"items": 3}, site={"default_feed": "news"})
    import_folder(core, blog.root)
    app = create_app(core=core)
    for path in PATHS:
        assert app.test_client().get(path).status_code == 200
    return app


PATHS = [
    "/news/atom.xml",
    "/news/rss.xml",
    "/news/feed.json",
    "/news/tags/tips/atom.xml",
    "/news/page/2/rss.xml",
    "/news/tags/tips/page/2/feed.json",
    "/",
    "/news/",
    "/news/page/2/",
    "/news/tags/tips/",
    "/news/tags/tips/page/2/",
    "/news/p1/",
]


def both(app, method: str, path: str, headers: dict[str, str]):
    """The same request through the whole app and through Flask alone."""
    fast = Client(app.wsgi_app).open(path, method=method, headers=headers)
    flask = Client(app.wsgi_app.app).open(path, method=method, headers=headers)
    return fast, flask


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_warm_hit_is_answered_exactly_as_flask_answers_it(warm, path, method):
    etag = warm.test_client().get(path).headers["ETag"]
    modified = warm.test_client().get(path).headers["Last-Modified"]
    for headers in (
        {},
        {"If-None-Match": etag},
        {"If-None-Match": '"stale"'},
        {"If-None-Match": f"W/{etag}"},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Match": '"other"'},
        {"Accept": "application/atom+xml"},
    ):
        fast, flask = both(warm, method, path, headers)
        assert fast.status_code == flask.status_code, headers
        assert sorted(fast.headers.items()) == sorted(flask.headers.items()), headers
        assert fast.get_data() == flask.get_data(), headers


def test_a_warm_hit_skips_flask_and_a_miss_goes_through_it(warm):
    seen, flask = [], warm.wsgi_app.app
    warm.wsgi_app.app = lambda environ, start: seen.append(1) or flask(environ, start)
    client = warm.test_client()
    assert client.get("/news/atom.xml").status_code == 200
    assert seen == []
    assert client.get("/news/tags/tips/rss.xml").status_code == 200  # not fetched before: a miss
    assert seen == [1]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/news/atom.xml", {"Accept": BROWSER}, 200),  # the HTML preview
        ("/news/page/1/atom.xml", {}, 301),
        ("/nope/atom.xml", {}, 404),
        ("/news/page/9/atom.xml", {}, 404),
    ],
)
def test_what_the_cache_cannot_answer_falls_through_to_flask(warm, path, headers, status):
    fast, flask = both(warm, "GET", path, headers)
    assert fast.status_code == flask.status_code == status
    assert fast.get_data() == flask.get_data()


def test_fast_answers_are_logged_and_counted_like_the_others(warm, caplog):
    with caplog.at_level(logging.INFO, logger="syndicator.access"):
        warm.test_client().get("/news/page/2/rss.xml")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "syndicator.access"]
    assert '"GET /news/page/2/rss.xml" 200' in line
    body = warm.test_client().get("/metrics").get_data(as_text=True)
    rule = feeds.RULES[False, True].replace('"', '\\"')
    counts = [
        line
        for line in body.splitlines()
        if line.startswith("syndicator_http_requests_total") and f'endpoint="{rule}"' in line
    ]
    assert counts and counts[0].endswith(" 2.0")  # the warm-up fetch (Flask) and this one
