"""Worker heartbeats: a row per sending run, beaten from a thread while it runs.

A lease normally lasts long enough to cover a slow attempt, so a worker
killed with SIGKILL would hold its messages for that long. With heartbeats a
claim also counts as free once its owner has not beaten for STALE_BEATS beat
intervals: a crashed worker's messages go out again within seconds. A run
that ends cleanly deletes its row; the worker's own row (beaten every tick)
stays, so anyone can read how long ago a worker was last alive.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.models import WorkerBeat

log = logging.getLogger(__name__)

STALE_BEATS = 3
MAX_INTERVAL = 5.0  # seconds between beats, at most
# This process: every run's owner name starts with it.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def interval(core: Core) -> timedelta:
    return timedelta(seconds=min(core.config.scheduler.poll_seconds, MAX_INTERVAL))


def stale_before(core: Core, now: datetime) -> datetime:
    """Beats older than this are a dead worker's."""
    return now - STALE_BEATS * interval(core)


def new_owner() -> str:
    return f"{PROCESS}/{secrets.token_hex(4)}"


FORGOTTEN_AFTER = timedelta(days=1)


def beat(core: Core, owner: str = PROCESS) -> None:
    """Record that `owner` is alive now; the worker's own beat also sweeps long-dead ones."""
    now = core.now()
    with core.transaction() as session:
        _beat(session, owner, now)
        if owner == PROCESS:
            session.execute(delete(WorkerBeat).where(WorkerBeat.beat_at < now - FORGOTTEN_AFTER))


def _beat(session: Session, owner: str, now: datetime) -> None:
    found = session.execute(update(WorkerBeat).where(WorkerBeat.owner == owner).values(beat_at=now))
    if found.rowcount == 0:  # type: ignore[attr-defined]
        session.add(WorkerBeat(owner=owner, beat_at=now))


Writer = Callable[[Callable[[Session], Any]], Any]


@contextmanager
def beating(core: Core, owner: str, write: Writer) -> Iterator[None]:
    """Keep `owner` alive while the block runs; forget it after.

    `write` runs a step in a write transaction: the run's own writer, so the
    beats never wait for the run's other writes in SQLite's busy loop.
    """
    write(lambda session: _beat(session, owner, core.now()))
    stop = threading.Event()

    def keep_beating() -> None:
        while not stop.wait(interval(core).total_seconds()):
            try:
                write(lambda session: _beat(session, owner, core.now()))
            except Exception:  # a missed beat only lets others take over sooner
                log.exception("heartbeat of %s not recorded", owner)

    thread = threading.Thread(target=keep_beating, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        write(lambda session: session.execute(delete(WorkerBeat).where(WorkerBeat.owner == owner)))


def last_beat_age(session: Session, now: datetime) -> timedelta | None:
    """How long ago any worker last beat; None if none ever did (for the health check)."""
    latest = session.scalar(select(func.max(WorkerBeat.beat_at)))
    return None if latest is None else now - latest
