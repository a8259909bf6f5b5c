"""Distinct pollers: exact while few, a HyperLogLog estimate beyond, bounded memory."""

from __future__ import annotations

import random
import sys
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from syndicator.stats import distinct
from syndicator.stats import tally as tally_module
from syndicator.stats.distinct import Sketch
from syndicator.stats.tally import FeedUrl, Tally, Visit


def _values(count: int, seed: int) -> list[int]:
    generator = random.Random(seed)
    return [generator.getrandbits(64) for _ in range(count)]


def test_counts_are_exact_up_to_the_bound_and_survive_storage():
    sketch = Sketch()
    values = _values(distinct.EXACT_LIMIT, 1)
    for value in values + values[:100]:  # repeats count once
        sketch.add(value)
    stored = Sketch.from_bytes(sketch.to_bytes())
    assert stored.count() == distinct.EXACT_LIMIT


def test_beyond_the_bound_the_estimate_is_within_three_percent_and_fixed_in_size():
    sketch = Sketch()
    for value in _values(100_000, 2):
        sketch.add(value)
    assert abs(sketch.count() - 100_000) <= 3_000
    assert len(sketch.to_bytes()) == distinct.REGISTERS + 1
    assert Sketch.from_bytes(sketch.to_bytes()).count() == sketch.count()


def test_merging_sketches_counts_the_union_once():
    shared, mine, theirs = _values(600, 3), _values(300, 4), _values(500, 5)
    one, two = Sketch(), Sketch()
    for value in shared + mine:
        one.add(value)
    for value in shared + theirs:
        two.add(value)
    one.merge(two)  # 1,400 distinct: past the exact bound, so an estimate
    assert abs(one.count() - 1_400) <= 42
    small, other = Sketch(), Sketch()
    for value in shared[:10]:
        small.add(value)
        other.add(value)
    small.merge(other)
    assert small.count() == 10


def test_unreadable_stored_bytes_count_as_nobody():
    assert Sketch.from_bytes(b"").count() == 0
    assert Sketch.from_bytes(b"H\x01\x02").count() == 0
    assert Sketch.from_bytes(b"E\x00").count() == 0


def test_a_hundred_thousand_clients_in_a_day_cost_a_few_megabytes():
    tally = Tally(timezone=ZoneInfo("UTC"), trusted_proxies=[], min_poll_seconds=300)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    urls = [FeedUrl("news", "", fmt, 1) for fmt in ("atom", "rss", "json")]
    tracemalloc.start()
    for n in range(100_000):
        address = f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}"
        visit = Visit(urls[n % 3], address, None, f"Reader/{n % 7}", 200, 4000, False)
        tally.count(visit, now + timedelta(milliseconds=n))
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert held < 4 * 2**20, f"held {held / 2**20:.1f} MB"
    batch = tally.drain()
    assert sum(counts[0] for counts in batch.traffic.values()) == 100_000
    estimate = sum(sketch.count() for sketch in batch.pollers.values())
    assert abs(estimate - 100_000) <= 3_000


def test_request_threads_counting_and_folding_at_once_lose_nothing(monkeypatch):
    monkeypatch.setattr(tally_module, "MAX_PENDING", 7)  # every few requests, a fold
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    tally = Tally(timezone=ZoneInfo("UTC"), trusted_proxies=[], min_poll_seconds=0)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    url = FeedUrl("news", "", "atom", 1)

    def poll(thread: int) -> None:
        for n in range(2_000):
            tally.count(Visit(url, f"10.0.{thread}.{n % 50}", None, "R", 200, 1, False), now)

    threads = [threading.Thread(target=poll, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(0.005)
    batch = tally.drain()

    assert batch.traffic[now.date(), url][0] == 16_000
    assert batch.pollers[now.date(), url].count() == 8 * 50
