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
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from syndicator.stats import agents, clients
from syndicator.stats.distinct import Sketch

MAX_REMEMBERED = 16_384  # about 2 MB
# Counter positions in Batch.traffic values.
REQUESTS, FULL, NOT_MODIFIED, THROTTLED, BYTES = range(5)
_STATUS_COLUMNS = {200: FULL, 304: NOT_MODIFIED, 429: THROTTLED}
MAX_PENDING = 2_000  # requests queued (under 1 MB) before the request thread folds them


class FeedUrl(NamedTuple):
    """One feed URL: a feed or one of its tags, a format, a page."""

    feed: str
    tag: str  # "" for the whole feed
    format: str
    page: int


class Visit(NamedTuple):
    """One answered feed request, as the web layer saw it."""

    url: FeedUrl
    remote: str
    forwarded: str | None
    agent: str
    status: int  # 200, 304 (or 412); 429 once polite polling refused it
    size: int  # body bytes sent
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
        self._pending: deque[tuple[datetime, Visit]] = deque()
        self._last_fetch: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()
        self._folding = threading.Lock()  # one fold at a time takes from the queue
        self.next_upkeep_at: datetime | None = None  # the worker's (stats.flusher.upkeep)

    def count(self, visit: Visit, now: datetime) -> int | None:
        """Count a request; the Retry-After seconds when polite polling refuses it.

        The request thread only appends to a queue: hashing, parsing and adding
        up happen once per distinct request when the queue is folded (at flush,
        or here once MAX_PENDING wait).
        """
        retry_after = self._too_soon(visit, now) if self.min_poll_seconds else None
        if retry_after is not None:
            visit = visit._replace(status=429, size=0)
        self._pending.append((now, visit))
        if len(self._pending) >= MAX_PENDING:
            self._fold()
        return retry_after

    def _client(self, day: date, visit: Visit) -> int:
        remote = clients.address(visit.remote, visit.forwarded, self.trusted)
        return self.salt.client_hash(day, remote, visit.agent)

    def _too_soon(self, visit: Visit, now: datetime) -> int | None:
        fetcher = hash((self._client(day_of(now, self.timezone), visit), visit.url))
        at = now.timestamp()
        with self._lock:
            last = self._last_fetch.get(fetcher)
            if last is not None and not visit.conditional and at - last < self.min_poll_seconds:
                return max(1, math.ceil(self.min_poll_seconds - (at - last)))
            self._last_fetch[fetcher] = at
            self._last_fetch.move_to_end(fetcher)
            if len(self._last_fetch) > MAX_REMEMBERED:
                self._last_fetch.popitem(last=False)
        return None

    def _fold(self) -> None:
        """Add the queued requests to the batch, alike ones together (counted in C loops:
        a day's worth of requests from one poller is one key)."""
        with self._folding:
            taken = [self._pending.popleft() for _ in range(len(self._pending))]
        if not taken:
            return
        first, last = day_of(taken[0][0], self.timezone), day_of(taken[-1][0], self.timezone)
        if first == last:
            days = [(first, taken)]
        else:  # around midnight: split by day
            split: dict[date, list[tuple[datetime, Visit]]] = {}
            for item in taken:
                split.setdefault(day_of(item[0], self.timezone), []).append(item)
            days = list(split.items())
        with self._lock:
            for day, items in days:
                times, visits = zip(*items, strict=True)
                latest = dict(zip(visits, times, strict=True))
                for visit, count in Counter(visits).items():
                    self._add(day, visit, count, latest[visit])

    def _add(self, day: date, visit: Visit, times: int, seen_at: datetime) -> None:
        counts = self._batch.traffic.setdefault((day, visit.url), [0] * 5)
        counts[REQUESTS] += times
        counts[BYTES] += visit.size * times
        column = _STATUS_COLUMNS.get(visit.status)
        if column is not None:
            counts[column] += times
        report = agents.reported(visit.agent)
        if report is None:
            self._batch.pollers.setdefault((day, visit.url), Sketch()).add(self._client(day, visit))
        elif report.subscribers is not None:
            named = (day, visit.url, report.aggregator)
            if named not in self._batch.reports or self._batch.reports[named][1] <= seen_at:
                self._batch.reports[named] = (report.subscribers, seen_at)

    def drain(self) -> Batch:
        """Everything counted so far; counting starts again from nothing."""
        self._fold()
        with self._lock:
            batch, self._batch = self._batch, Batch()
        return batch

    def restore(self, batch: Batch) -> None:
        """Put back a batch that could not be written, to go with the next flush."""
        with self._lock:
            batch.merge(self._batch)
            self._batch = batch
