"""Stored counts: several processes flushing into the same rows, failed flushes, retention."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from stats_support import FEEDLY, rows

from syndicator.models import AggregatorCount, ChannelCount, FeedPollers, FeedTraffic
from syndicator.stats import audience, flusher
from syndicator.stats.tally import FeedUrl, Visit, day_of

ROUNDS, CLIENTS = 15, 40
CHILD = """
import json, sys
from datetime import datetime, timedelta
from syndicator import config, core
from syndicator.stats import flusher
from syndicator.stats.tally import FeedUrl, Visit

settings, number, start = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rounds, clients, feedly = json.loads(sys.argv[4])
moment = [datetime.fromisoformat(start)]
built = core.build(config.from_mapping(settings, source="child", env={}), clock=lambda: moment[0])
url = FeedUrl("news", "", "atom", 1)
for round_number in range(rounds):
    for client in range(clients):
        visit = Visit(url, f"10.0.{number}.{client}", None, "Reader/1", 200, 100, False)
        built.tally.count(visit, moment[0])
    moment[0] += timedelta(seconds=1)
    agent = feedly.format(number * 100 + round_number)
    built.tally.count(Visit(url, "192.0.2.1", None, agent, 304, 0, True), moment[0])
    flusher.flush(built)
built.close()
"""


def visit(agent: str = "Reader/1", address: str = "203.0.113.1") -> Visit:
    return Visit(FeedUrl("news", "", "atom", 1), address, None, agent, 200, 10, False)


def test_two_processes_flushing_at_once_add_up(make_config, make_core, make_feed, clock):
    core = make_core()  # migrates the database the children share
    make_feed("news")
    settings = {"storage": {"database_url": make_config().storage.database_url}}
    shared = json.dumps([ROUNDS, CLIENTS, FEEDLY])
    # The second process's reports are seen later than the first's, whatever the flush order.
    starts = [clock.moment, clock.moment + timedelta(hours=1)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                json.dumps(settings),
                str(number),
                start.isoformat(),
                shared,
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for number, start in ((1, starts[0]), (2, starts[1]))
    ]
    for child in children:
        _, errors = child.communicate(timeout=120)
        assert child.returncode == 0, errors

    (stored,) = rows(core, FeedTraffic)
    assert stored.requests == 2 * ROUNDS * (CLIENTS + 1)
    assert (stored.full, stored.not_modified) == (2 * ROUNDS * CLIENTS, 2 * ROUNDS)
    assert stored.bytes_sent == 2 * ROUNDS * CLIENTS * 100
    with core.reading() as session:
        (day,) = audience.series(session, "news", last=day_of(clock(), core.timezone), days=1)
    assert day.pollers == 2 * CLIENTS  # each process's clients, merged into one sketch
    assert day.by_aggregator == {"Feedly": 200 + ROUNDS - 1}  # the latest report seen


def test_counts_wait_in_memory_while_the_database_is_away(core, make_feed, monkeypatch):
    make_feed("news")
    core.tally.count(visit(), core.now())

    def away(*args, **kwargs):
        raise sa_exc.OperationalError("INSERT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(flusher.store, "write", away)
        assert flusher.flush(core) == 0
    core.tally.count(visit(address="203.0.113.2"), core.now())

    (stored,) = rows(core, FeedTraffic)
    assert stored.requests == 2


def test_the_worker_keeps_channel_counts_and_prunes_days_past_keep_days(
    make_core, make_feed, make_subscriber, clock
):
    core = make_core(stats={"keep_days": 3})
    make_feed("news", core=core)
    make_subscriber("ann@example.org", feed="news", core=core)
    core.tally.count(visit(), core.now())
    core.tally.count(visit(FEEDLY.format(8)), core.now())
    flusher.flush(core)
    assert flusher.upkeep(core) is True
    assert flusher.upkeep(core) is False  # not again until UPKEEP_EVERY has passed
    first_day = day_of(clock(), core.timezone)

    clock.advance(days=2)
    core.tally.count(visit(), core.now())
    flusher.flush(core)
    assert flusher.upkeep(core) is True
    assert {row.day for row in rows(core, FeedTraffic)} == {first_day, first_day + timedelta(2)}

    clock.advance(days=2)
    assert flusher.upkeep(core) is True
    for table in (FeedTraffic, FeedPollers, AggregatorCount, ChannelCount):
        assert first_day not in {row.day for row in rows(core, table)}, table
    assert {row.day for row in rows(core, FeedTraffic)} == {first_day + timedelta(2)}


def _flushing(make_core, make_feed, seconds: float):
    """A core with a running flush thread and one request counted."""
    core = make_core(stats={"flush_seconds": seconds})
    make_feed("news", core=core)
    running = flusher.start(core)
    assert running is not None
    core.tally.count(visit(), core.now())
    return core, running


def test_the_flush_thread_writes_counts_on_its_own(make_core, make_feed):
    core, running = _flushing(make_core, make_feed, 0.05)
    for _ in range(400):  # until the thread has flushed (polled, not timed)
        if _stored_requests(core) == 1:
            break
        threading.Event().wait(0.05)
    running.stop()
    assert _stored_requests(core) == 1


def test_stopping_the_flush_thread_writes_what_is_left(make_core, make_feed):
    core, running = _flushing(make_core, make_feed, 3600)
    running.stop()
    assert _stored_requests(core) == 1


def test_no_flush_thread_when_counting_is_off(make_core):
    assert flusher.start(make_core(stats={"enabled": False})) is None


def _stored_requests(core) -> int:
    with core.reading() as session:
        return sum(row.requests for row in session.scalars(select(FeedTraffic)))
