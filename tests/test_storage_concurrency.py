"""Concurrent writers on the default set-up: each waits its turn, none fails.

A deferred SQLite transaction that reads and then writes fails at once with
"database is locked" when another writer committed meanwhile; write
transactions therefore take the lock when they begin.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
