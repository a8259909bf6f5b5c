"""Concurrent writers on the default set-up: each waits its turn, none fails.

A deferred SQLite transaction that reads and then writes fails at once with
"database is locked" when another writer committed meanwhile; write
transactions therefore take the lock when they begin.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from syndicator.models import Post
from syndicator.posts import store


def test_six_writers_that_read_first_all_commit(core: Any, make_feed: Any) -> None:
    make_feed()

    def write(worker: int) -> None:
        for number in range(40):
            data = store.PostData(title=f"Post {worker}-{number}", published_at=core.now())
            with core.transaction() as session:
                store.create(session, "news", data, store.Origin(), core.now())

    with ThreadPoolExecutor(6) as pool:
        failures = [f.exception() for f in [pool.submit(write, w) for w in range(6)]]

    assert failures == [None] * 6
    with core.reading() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 240


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: row locks
def test_a_writer_gets_its_turn_while_others_write_back_to_back(core: Any, make_feed: Any) -> None:
    """Writers that commit and write again at once must not keep another waiting:
    SQLite alone lets a waiting writer poll with growing sleeps, and it lost to
    them for dozens of turns."""
    make_feed()
    order: list[str] = []
    asked_at: list[int] = []
    busy_writing = threading.Barrier(4)

    def write(name: str) -> None:
        data = store.PostData(title=name, published_at=core.now())
        with core.transaction() as session:
            store.create(session, "news", data, store.Origin(), core.now())
            order.append(name)
            time.sleep(0.01)  # a write that takes a moment, holding the lock

    def busy(writer: int) -> None:
        busy_writing.wait()
        for number in range(60):
            write(f"busy {writer} {number}")

    def now_and_then() -> None:
        busy_writing.wait()
        for number in range(5):
            time.sleep(0.05)
            asked_at.append(len(order))
            write(f"once {number}")

    with ThreadPoolExecutor(4) as pool:
        for future in [*(pool.submit(busy, n) for n in range(3)), pool.submit(now_and_then)]:
            future.result()

    waited = [order.index(f"once {n}") - asked for n, asked in enumerate(asked_at)]
    assert max(waited) <= 6, f"waited {waited} turns"  # the three ahead, with room to spare
