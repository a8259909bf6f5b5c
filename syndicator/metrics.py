"""Prometheus metrics, one registry per running instance so tests stay isolated.

Every label takes values from a fixed set: a label copied from the request
(a made-up method, a path) would add a series per distinct value, and a
client could grow the server's memory and `/metrics` without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_STATUSES = frozenset(status.value for status in HTTPStatus)


def method_label(method: str) -> str:
    """The method, or OTHER for anything outside the standard few."""
    return method if method in METHODS else "OTHER"


def status_label(status: int) -> str:
    """The status code when it is a registered one, else its class ("5xx")."""
    return str(status) if status in _STATUSES else f"{str(status)[:1]}xx"


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "syndicator_http_requests",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "syndicator_http_request_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.feed_renders = Counter(
            "syndicator_feed_renders",
            (
                "Feeds, pages and site files rendered (cache misses), by format: atom, rss, "
                "json, html, post, sitemap, opml."
            ),
            ["format"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "syndicator_feed_cache_hits",
            "Feed and page requests served from the render cache.",
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "syndicator_feed_cache_misses",
            "Feed and page requests that had to render.",
            registry=self.registry,
        )
        self.ticks = Counter(
            "syndicator_worker_ticks", "Scheduler ticks run.", registry=self.registry
        )
        self.posts_went_live = Counter(
            "syndicator_scheduled_posts_published",
            "Scheduled posts that came due and went live.",
            registry=self.registry,
        )

        self.webhook_attempts = Counter(
            "syndicator_webhook_attempts",
            "Webhook delivery attempts, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.websub_notifications = Counter(
            "syndicator_websub_notifications",
            "WebSub notification attempts, by verdict (succeeded, retry, failed, gone, skipped).",
            ["outcome"],
            registry=self.registry,
        )
        self.websub_verifications = Counter(
            "syndicator_websub_verifications",
            "WebSub verifications of intent, by verdict (succeeded, retry, failed, gone).",
            ["outcome"],
            registry=self.registry,
        )
        self.websub_pings = Counter(
            "syndicator_websub_pings",
            "Publish pings to external hubs ([websub] also_ping), by verdict.",
            ["outcome"],
            registry=self.registry,
        )
        self.websub_subscriptions = Gauge(
            "syndicator_websub_subscriptions",
            "WebSub subscriptions by status, as of the last scrape of /metrics.",
            ["status"],
            registry=self.registry,
        )
        # Labels are feed slugs (rows an operator made) and the five fixed sources.
        self.audience = Gauge(
            "syndicator_feed_audience",
            "People following a feed today, by source (docs/audience.md).",
            ["feed", "source"],
            registry=self.registry,
        )
        self.mails = Counter(
            "syndicator_mails",
            "Mails handed to the transport, by outcome.",
            ["outcome"],
            registry=self.registry,
        )

    def set_audience(self, feeds: dict[str, dict[str, int]]) -> None:
        """Today's audience: {feed: {source: people}}; feeds no longer there drop out."""
        self.audience.clear()
        for feed, sources in feeds.items():
            for source, people in sources.items():
                self.audience.labels(feed, source).set(people)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request; `endpoint` must be a URL rule or another fixed name."""
        self.requests.labels(endpoint, method_label(method), status_label(status)).inc()
        self.request_seconds.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
