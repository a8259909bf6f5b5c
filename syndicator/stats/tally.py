"""Counting feed requests in memory: a dictionary update per request, written in batches.

Every key is a feed URL the server actually answered (its feed, tag and page
exist) and every aggregator name comes from `agents.FORMATS`, so no request
can add a key of its own making. Distinct pollers are sketches
(`distinct.Sketch`, bounded), and polite polling remembers at most
MAX_REMEMBERED clients, forgetting the longest-quiet first.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from syndicator.stats import agents, clients
from syndicator.stats.distinct import Sketch

MAX_REMEMBERED = 32_768
# Counter positions in Batch.traffic values.
REQUESTS, FULL, NOT_MODIFIED, THROTTLED, BYTES = range(5)


@dataclass(frozen=True, order=True)
class FeedUrl:
    """One feed URL: a feed or one of its tags, a format, a page."""

    feed: str
    tag: str  # "" for the whole feed
    format: str
    page: int


@dataclass(frozen=True)
class Visit:
    """One answered feed request, as the web layer saw it."""

    url: FeedUrl
    remote: str
    forwarded: str | None
    agent: str
    status: int  # 200 or 304 (or 412) before polite polling had its say
    size: int  # body bytes a 200 sends
    conditional: bool


@dataclass
class Batch:
    """What one process counted since its last flush."""

    traffic: dict[tuple[date, FeedUrl], list[int]] = field(default_factory=dict)
    pollers: dict[tuple[date, FeedUrl], Sketch] = field(default_factory=dict)
    reports: dict[tuple[date, FeedUrl, str], tuple[int, datetime]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.traffic or self.pollers or self.reports)

    def merge(self, other: Batch) -> None:
        for key, counts in other.traffic.items():
            mine = self.traffic.setdefault(key, [0] * 5)
            mine[:] = [a + b for a, b in zip(mine, counts, strict=True)]
        for key, sketch in other.pollers.items():
            self.pollers.setdefault(key, Sketch()).merge(sketch)
        for named, report in other.reports.items():
            if named not in self.reports or self.reports[named][1] <= report[1]:
                self.reports[named] = report


def day_of(now: datetime, zone: ZoneInfo) -> date:
    """The day counters are kept under: the site's time zone."""
    return now.astimezone(zone).date()


class Tally:
    """This process's counts since the last flush, safe across request threads."""

    def __init__(
        self, *, timezone: ZoneInfo, trusted_proxies: list[str], min_poll_seconds: int
    ) -> None:
        self.timezone = timezone
        self.trusted = clients.networks(trusted_proxies)
        self.min_poll_seconds = min_poll_seconds
        self.salt = clients.DailySalt()
        self._batch = Batch()
        self._last_fetch: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()
        self.next_upkeep_at: datetime | None = None  # the worker's (stats.flusher.upkeep)

    def count(self, visit: Visit, now: datetime) -> int | None:
        """Count a request; the Retry-After seconds when polite polling refuses it."""
        day = day_of(now, self.timezone)
        remote = clients.address(visit.remote, visit.forwarded, self.trusted)
        client = self.salt.client_hash(day, remote, visit.agent)
        report = agents.reported(visit.agent)
        key = (day, visit.url)
        with self._lock:
            retry_after = self._too_soon(hash((client, visit.url)), visit, now.timestamp())
            counts = self._batch.traffic.get(key) or self._batch.traffic.setdefault(key, [0] * 5)
            counts[REQUESTS] += 1
            if retry_after is not None:
                counts[THROTTLED] += 1
            elif visit.status == 200:
                counts[FULL] += 1
                counts[BYTES] += visit.size
            elif visit.status == 304:
                counts[NOT_MODIFIED] += 1
            if report is None:
                self._batch.pollers.setdefault(key, Sketch()).add(client)
            elif report.subscribers is not None:
                self._batch.reports[(day, visit.url, report.aggregator)] = (
                    report.subscribers,
                    now,
                )
        return retry_after

    def _too_soon(self, fetcher: int, visit: Visit, at: float) -> int | None:
        if not self.min_poll_seconds:
            return None
        last = self._last_fetch.get(fetcher)
        if last is not None and not visit.conditional and at - last < self.min_poll_seconds:
            return max(1, math.ceil(self.min_poll_seconds - (at - last)))
        self._last_fetch[fetcher] = at
        self._last_fetch.move_to_end(fetcher)
        if len(self._last_fetch) > MAX_REMEMBERED:
            self._last_fetch.popitem(last=False)
        return None

    def drain(self) -> Batch:
        """Everything counted so far; counting starts again from nothing."""
        with self._lock:
            batch, self._batch = self._batch, Batch()
        return batch

    def restore(self, batch: Batch) -> None:
        """Put back a batch that could not be written, to go with the next flush."""
        with self._lock:
            batch.merge(self._batch)
            self._batch = batch
