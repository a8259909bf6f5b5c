"""Aggregators' self-reported subscriber counts, read from User-Agents seen in the wild.

Each string below was copied from a public access log, an aggregator's own
source code, or a site owner's write-up of their feed traffic.
"""

from __future__ import annotations

import pytest

from syndicator.stats import agents
from syndicator.stats.agents import Report

REAL = [
    # popey.com access log (2023), and Feedly's newer poller address
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 134 subscribers; )", "Feedly", 134),
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 457 subscribers; "
        "like FeedFetcher-Google)",
        "Feedly",
        457,
    ),
    # willmcgugan.com access log (2024)
    ("Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 26 subscribers; )", "Inoreader", 26),
    # NewsBlur's fetcher: 'NewsBlur Feed Fetcher - %s subscriber%s - %s (Mozilla/5.0 …)'
    (
        "NewsBlur Feed Fetcher - 1 subscriber - http://www.newsblur.com/site/0000000/webpage "
        "(Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/14.0.1 Safari/605.1.15)",
        "NewsBlur",
        1,
    ),
    # Feedbin's crawler: "Feedbin feed-id:#{@feed_id} - #{@subscribers} subscribers"
    ("Feedbin feed-id:1373711 - 142 subscribers", "Feedbin", 142),
    (
        "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; "
        "feed-id=0719795c4d27c784217b0bc0)",
        "The Old Reader",
        1,
    ),
    (
        "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 6 subscribers)",
        "BazQux",
        6,
    ),
    ("Netvibes (http://www.netvibes.com/; 1 subscribers; feedID: 6639445)", "Netvibes", 1),
    (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; "
        "feed-id=9048986372668769311)",
        "Google Feedfetcher",
        4,
    ),
    (
        "Overcast/1.0 Podcast Sync (1190 subscribers; feed-id=554901; +http://overcast.fm/)",
        "Overcast",
        1190,
    ),
]


@pytest.mark.parametrize(("agent", "aggregator", "subscribers"), REAL)
def test_each_known_format_gives_its_aggregator_and_count(agent, aggregator, subscribers):
    assert agents.reported(agent) == Report(aggregator, subscribers)


def test_every_format_in_the_table_has_a_real_string_tested():
    assert {aggregator for _agent, aggregator, _count in REAL} == set(agents.NAMES)


def test_an_aggregator_without_a_count_is_still_an_aggregator():
    agent = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)"
    assert agents.reported(agent) == Report("Feedly", None)


def test_a_reader_that_reports_nothing_is_a_direct_poller():
    for agent in (
        "Mozilla/5.0 (compatible; Miniflux/2.2.3; +https://miniflux.app)",
        "Tiny Tiny RSS/24.02 (https://tt-rss.org/)",
        "FreshRSS/1.23.1 (Linux; https://freshrss.org)",
        "Mozilla whatever whatever 11 subscribers",  # a count, but no aggregator we know
    ):
        assert agents.reported(agent) is None


def test_an_absurd_count_is_ignored():
    forged = "NewsBlur Feed Fetcher - 250000000 subscribers - https://www.newsblur.com"
    assert agents.reported(forged) == Report("NewsBlur", None)
    at_cap = f"Feedbin feed-id:1 - {agents.MAX_REPORTED} subscribers"
    assert agents.reported(at_cap) == Report("Feedbin", agents.MAX_REPORTED)


def test_a_count_beyond_the_characters_looked_at_is_not_read():
    padded = "Feedly/1.0 (" + "x" * agents.MAX_AGENT_CHARS + "; 5 subscribers; )"
    assert agents.reported(padded) == Report("Feedly", None)
