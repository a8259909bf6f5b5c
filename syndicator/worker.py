"""tick(): everything that is due, done once. APScheduler is only the clock.

Everything that must survive a crash lives in rows, so a tick that dies half
way is simply run again; the scheduler's own job store holds nothing of value.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from syndicator import posts
from syndicator.core import Core

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    went_live: list[str]


def tick(core: Core) -> TickReport:
    """Publish scheduled posts whose time has come."""
    with core.transaction() as session:
        due = posts.publish_due(session, core.now())
        went_live = [f"{post.feed_slug}/{post.slug}" for post in due]
    core.metrics.ticks.inc()
    core.metrics.posts_went_live.inc(len(went_live))
    for name in went_live:
        log.info("scheduled post went live: %s", name)
    return TickReport(went_live)


def _safe_tick(core: Core) -> None:
    try:
        tick(core)
    except Exception:  # a failed tick must not stop the schedule; the next one retries
        log.exception("tick failed; retrying at the next poll")


def _add_jobs(scheduler: BackgroundScheduler, core: Core) -> None:
    scheduler.add_job(
        _safe_tick,
        "interval",
        args=[core],
        seconds=core.config.scheduler.poll_seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )


def start_in_background(core: Core) -> BackgroundScheduler:
    """The scheduler beside the web server (`serve`)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    _add_jobs(scheduler, core)
    scheduler.start()
    return scheduler


def run_forever(core: Core, stop: threading.Event | None = None) -> None:
    """The scheduler alone (`worker`): blocks until interrupted or `stop` is set."""
    scheduler = start_in_background(core)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
