"""Counting feed traffic: per URL and day, distinct pollers, aggregators, hostile input."""

from __future__ import annotations

import random
import string

import pytest
from stats_support import FEEDLY, NEWSBLUR, TABLES, fetch, rows, three_posts, traffic
from werkzeug.test import create_environ

from syndicator.models import AggregatorCount, FeedPollers, FeedTraffic
from syndicator.stats import agents, audience, flusher
from syndicator.stats.tally import day_of
from syndicator.web import create_app


@pytest.fixture
def app(blog, make_core):
    core = make_core(feeds={"items": 2})
    three_posts(blog, core)
    return create_app(core=core)


def core_of(app):
    return app.extensions["syndicator"]


def series(app, days=1):
    core = core_of(app)
    flusher.flush(core)
    with core.reading() as session:
        return audience.series(session, "news", last=day_of(core.now(), core.timezone), days=days)


def test_each_feed_url_counts_requests_answers_and_bytes(app):
    first = fetch(app, "/news/atom.xml")
    fetch(app, "/news/atom.xml", if_none_match=first.headers["ETag"])
    fetch(app, "/news/atom.xml", method="HEAD")
    fetch(app, "/news/tags/tips/rss.xml")
    fetch(app, "/news/page/2/feed.json")
    fetch(app, "/news/page/9/feed.json")  # past the end: 404, not a feed answer

    counted = traffic(core_of(app))

    assert set(counted) == {("", "atom", 1), ("tips", "rss", 1), ("", "json", 2)}
    atom = counted["", "atom", 1]
    assert (atom.requests, atom.full, atom.not_modified) == (3, 2, 1)
    assert atom.bytes_sent == len(first.data)  # HEAD and 304 send no body
    assert counted["tips", "rss", 1].requests == 1
    assert series(app)[0].requests == 5


def test_each_address_and_agent_is_one_poller_and_aggregators_are_not_pollers(app):
    for _ in range(3):
        fetch(app, "/news/atom.xml")  # the same reader, three times
    fetch(app, "/news/rss.xml")  # and its other format
    fetch(app, "/news/atom.xml", address="203.0.113.9")
    fetch(app, "/news/atom.xml", agent="NetNewsWire (RSS Reader; https://netnewswire.com/)")
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(40), address="203.0.113.50")

    (day,) = series(app)

    assert day.pollers == 3
    assert day.aggregators == 40
    assert day.audience == 43


def test_an_aggregator_counts_its_latest_report_once_across_the_feeds_formats(app, clock):
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(10))
    clock.advance(minutes=30)
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(12))  # the latest count wins
    fetch(app, "/news/rss.xml", agent=FEEDLY.format(12))  # the same people, another format
    fetch(app, "/news/atom.xml", agent=NEWSBLUR.format(3))
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(999_999_999))  # forged: ignored

    (day,) = series(app)

    assert day.by_aggregator == {"Feedly": 12, "NewsBlur": 3}
    assert day.aggregators == 15


def test_a_later_flush_of_an_older_report_does_not_replace_a_newer_one(app, clock):
    core = core_of(app)
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(20))
    early = core.tally.drain()  # held back, as a slow process would
    clock.advance(minutes=5)
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(25))
    rows(core, AggregatorCount)  # the newer count is written first
    core.tally.restore(early)

    (stored,) = rows(core, AggregatorCount)

    assert stored.subscribers == 25


def test_no_address_or_user_agent_reaches_the_database(app):
    agent = "Mozilla/5.0 (X11; Linux x86_64) PrivateReader/7.3 ann@example.org"
    fetch(app, "/news/atom.xml", agent=agent, address="203.0.113.77")
    fetch(app, "/news/atom.xml", agent=FEEDLY.format(5), address="203.0.113.78")
    core = core_of(app)

    stored = repr([[vars(row) for row in rows(core, table)] for table in TABLES])

    for secret in (
        "203.0.113.77",
        "203.0.113.78",
        "PrivateReader",
        "ann@example.org",
        "feedly.com",
    ):
        assert secret not in stored
    assert "Feedly" in stored  # the aggregator's name from the table, nothing else of its agent


# Untrusted: one client, the proxy. Trusted: the two clients, and the proxy for the
# request whose header names no address.
@pytest.mark.parametrize(("trusted", "pollers"), [([], 1), (["10.0.0.0/8"], 3)])
def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(blog, make_core, trusted, pollers):
    core = make_core(feeds={"items": 2}, server={"trusted_proxies": trusted})
    three_posts(blog, core)
    app = create_app(core=core)
    for client in ("203.0.113.1", "203.0.113.2"):
        forwarded = f"{client}, 10.1.2.3"  # the client, then one more proxy of ours
        fetch(app, "/news/atom.xml", address="10.9.9.9", x_forwarded_for=forwarded)
    fetch(app, "/news/atom.xml", address="10.9.9.9", x_forwarded_for="not an address")

    (day,) = series(app)

    assert day.pollers == pollers


@pytest.mark.config(feeds={"items": 2, "min_poll_seconds": 60})
def test_polite_polling_answers_429_to_a_client_fetching_again_too_soon(app, clock):
    first = fetch(app, "/news/atom.xml")
    again = fetch(app, "/news/atom.xml")
    conditional = fetch(app, "/news/atom.xml", if_none_match=first.headers["ETag"])
    someone_else = fetch(app, "/news/atom.xml", address="203.0.113.200")
    other_url = fetch(app, "/news/rss.xml")
    clock.advance(seconds=61)
    later = fetch(app, "/news/atom.xml")

    assert first.status_code == 200
    assert again.status_code == 429 and again.headers["Retry-After"] == "60"
    assert "60 s" in again.get_data(as_text=True)
    assert (conditional.status_code, someone_else.status_code, other_url.status_code) == (
        304,
        200,
        200,
    )
    assert later.status_code == 200
    atom = traffic(core_of(app))["", "atom", 1]
    assert (atom.requests, atom.full, atom.not_modified, atom.throttled) == (5, 3, 1, 1)
    assert atom.bytes_sent == 3 * len(first.data)


def test_polite_polling_is_off_by_default(app):
    assert [fetch(app, "/news/atom.xml").status_code for _ in range(3)] == [200, 200, 200]


def _random_agent(generator: random.Random) -> str:
    kind = generator.randrange(4)
    if kind == 0:  # a forged count for a known aggregator
        count = generator.choice([0, 7, 10**7, 10**12, 10**30])
        name = generator.choice(["Feedly/1.0 (", "Inoreader/1.0 (", "Feedbin feed-id:1 - "])
        return f"{name}{count} subscribers; )"
    if kind == 1:  # any bytes, as WSGI hands them over (latin-1)
        return bytes(generator.getrandbits(8) for _ in range(generator.randrange(300))).decode(
            "latin-1"
        )
    if kind == 2:  # long
        return "".join(generator.choices(string.printable, k=generator.randrange(1, 20_000)))
    return f"Reader/{generator.randrange(10**9)} ({generator.randrange(10**6)} readers)"


def test_ten_thousand_random_user_agents_neither_fail_nor_grow_the_rows(app):
    generator = random.Random(13)
    assert fetch(app, "/news/atom.xml").status_code == 200  # warm: the rest take the fast path
    base = create_environ("/news/atom.xml", environ_overrides={"REMOTE_ADDR": "203.0.113.5"})
    answers: set[str] = set()
    for _ in range(10_000):
        environ = {**base, "HTTP_USER_AGENT": _random_agent(generator)}
        b"".join(app.wsgi_app(environ, lambda status, headers: answers.add(status)))
    core = core_of(app)

    assert answers == {"200 OK"}
    assert len(rows(core, FeedTraffic)) == 1
    assert len(rows(core, FeedPollers)) == 1
    reported = rows(core, AggregatorCount)
    assert {row.aggregator for row in reported} <= set(agents.NAMES)
    assert all(row.subscribers <= agents.MAX_REPORTED for row in reported)
    (day,) = series(app)
    assert day.requests == 10_001
    assert 7_000 < day.pollers < 7_800  # about three in four named no aggregator
