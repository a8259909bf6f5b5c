"""Writing this process's counts every `[stats] flush_seconds`, and the worker's upkeep.

Each process (serve, web, worker, a gunicorn worker) flushes its own tally
from a daemon thread; a flush that fails (the database is away) puts its
counts back for the next one, so an outage loses none unless the process
ends before the database returns.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from syndicator import db
from syndicator.core import Core
from syndicator.stats import audience, store
from syndicator.stats.tally import day_of

log = logging.getLogger(__name__)
UPKEEP_EVERY = timedelta(minutes=10)


def flush(core: Core) -> int:
    """Write what this process counted; how many feed URL-days it touched."""
    batch = core.tally.drain()
    if not batch:
        return 0
    try:
        with core.transaction() as session:
            store.write(session, batch)
    except db.UNAVAILABLE as error:
        core.tally.restore(batch)
        log.warning("audience counts kept for the next flush: %s", db.reason(error))
        return 0
    return len(batch.traffic)


class Flusher:
    """The daemon thread that flushes; `stop()` flushes one last time."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-flush", daemon=True)

    def start(self) -> Flusher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.core.config.stats.flush_seconds):
            try:
                flush(self.core)
            except Exception:  # a bad flush must not end the thread; the next one retries
                log.exception("audience flush failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        flush(self.core)


def start(core: Core) -> Flusher | None:
    """A running flusher, or None when counting is off."""
    return Flusher(core).start() if core.config.stats.enabled else None


def upkeep(core: Core) -> bool:
    """The worker's part, every UPKEEP_EVERY: today's channel counts saved, days past
    `[stats] keep_days` pruned. Whether it ran."""
    now = core.now()
    due_at = core.tally.next_upkeep_at
    if due_at is not None and now < due_at:
        return False
    today = day_of(now, core.timezone)
    with core.transaction() as session:
        audience.save_today(session, core.urls, now, today)
        store.prune(session, today - timedelta(days=core.config.stats.keep_days))
    core.tally.next_upkeep_at = now + UPKEEP_EVERY
    return True
