"""Admin API routes for a feed's audience: the daily series as JSON and as an SVG chart."""

from __future__ import annotations

import re

from flask import Response, jsonify, request

from syndicator.errors import InvalidInput
from syndicator.stats import audience, chart
from syndicator.stats.tally import day_of
from syndicator.web.api import blueprint, openapi
from syndicator.web.api.openapi import LIST_ERRORS, Operation, ref
from syndicator.web.context import core_of_app

DEFAULT_DAYS = 30
_DAYS = re.compile(r"[0-9]{1,3}")


def _series(feed: str) -> list[audience.Day]:
    raw = request.args.get("days", str(DEFAULT_DAYS))
    if not _DAYS.fullmatch(raw) or not 1 <= int(raw) <= audience.MAX_DAYS:
        raise InvalidInput({"days": f"must be a whole number from 1 to {audience.MAX_DAYS}"})
    core = core_of_app()
    with core.reading() as session:
        today = day_of(core.now(), core.timezone)
        live = audience.channels_now(session, core.urls, core.now())
        return audience.series(session, feed, last=today, days=int(raw), live=live)


@blueprint.get("/feeds/<feed>/stats")
def feed_stats(feed: str) -> Response:
    days = _series(feed)
    return jsonify(
        feed=feed,
        timezone=core_of_app().config.site.timezone,
        sources=list(audience.SOURCES),
        days=[day.as_dict() for day in days],
    )


@blueprint.get("/feeds/<feed>/stats.svg")
def feed_stats_chart(feed: str) -> Response:
    return Response(chart.svg(feed, _series(feed)), content_type="image/svg+xml; charset=utf-8")


_COUNT = {"type": "integer", "minimum": 0}
_DAY = {
    "type": "object",
    "required": ["day", "audience", *audience.SOURCES, "by_aggregator", "requests"],
    "properties": {
        "day": {"type": "string", "format": "date", "description": "In [site] timezone."},
        "audience": {**_COUNT, "description": "The sum of the five sources."},
        "aggregators": {**_COUNT, "description": "Subscribers aggregators reported."},
        "pollers": {**_COUNT, "description": "Distinct direct pollers (not aggregators)."},
        "email": {**_COUNT, "description": "Confirmed email subscribers."},
        "webhooks": {**_COUNT, "description": "Active webhook endpoints following the feed."},
        "websub": {**_COUNT, "description": "Active WebSub subscriptions to its topics."},
        "by_aggregator": {"type": "object", "additionalProperties": _COUNT},
        "requests": {**_COUNT, "description": "Feed requests, every URL of the feed."},
        "ok": {**_COUNT, "description": "Answered 200."},
        "not_modified": {**_COUNT, "description": "Answered 304."},
        "throttled": {**_COUNT, "description": "Answered 429 ([feeds] min_poll_seconds)."},
        "bytes_sent": {**_COUNT, "description": "Body bytes of the 200s."},
    },
}
_DAYS_QUERY = openapi.query(
    "days",
    {"type": "integer", "minimum": 1, "maximum": audience.MAX_DAYS, "default": DEFAULT_DAYS},
    "How many days, ending today.",
)
_ERRORS = (*LIST_ERRORS, 404)
DOC = openapi.Section(
    schemas={
        "FeedStatsDay": _DAY,
        "FeedStats": {
            "type": "object",
            "required": ["feed", "timezone", "sources", "days"],
            "properties": {
                "feed": {"type": "string"},
                "timezone": {"type": "string"},
                "sources": {"type": "array", "items": {"type": "string"}},
                "days": {"type": "array", "items": ref("FeedStatsDay")},
            },
        },
    },
    operations=(
        Operation(
            "get", "/api/feeds/{feed}/stats", "getFeedStats",
            "A feed's audience per day, oldest first, each source apart",
            (200, ref("FeedStats")), _ERRORS, query=(_DAYS_QUERY,),
        ),
        Operation(
            "get", "/api/feeds/{feed}/stats.svg", "getFeedStatsChart",
            "The same series as an SVG line chart, one line per source",
            (200, {"type": "string"}), _ERRORS, query=(_DAYS_QUERY,),
            media_type="image/svg+xml",
        ),
    ),
)  # fmt: skip
