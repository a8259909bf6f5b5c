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
from sqlalchemy import exc as sa_exc

from syndicator.core import Core
from syndicator.delivery import heartbeats
from syndicator.mail import digests, sender
from syndicator.posts import store
from syndicator.stats import flusher
from syndicator.webhooks import channel, fanout
from syndicator.websub import channel as websub_channel
from syndicator.websub import distribution as websub_distribution
from syndicator.websub import pings as websub_pings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    went_live: list[str]
    digests_planned: int = 0
    mails_sent: int = 0
    webhooks_sent: int = 0


def tick(core: Core) -> TickReport:
    """Run every due job once: scheduled posts, webhook deliveries, digests and their mail."""
    heartbeats.beat(core)
    with core.transaction() as session:
        due = store.publish_due(session, core.now())
        went_live = [f"{post.feed_slug}/{post.slug}" for post in due]
    core.metrics.ticks.inc()
    core.metrics.posts_went_live.inc(len(went_live))
    for name in went_live:
        log.info("scheduled post went live: %s", name)
    sent = deliver_webhooks(core)
    deliver_websub(core)
    digests_planned = digests.plan_due(core)
    mails = sender.send_pending(core)
    if core.config.stats.enabled:
        flusher.upkeep(core)
    core.metrics.mails.labels("sent").inc(mails.sent)
    core.metrics.mails.labels("failed").inc(mails.failed)
    return TickReport(
        went_live, digests_planned=digests_planned, mails_sent=mails.sent, webhooks_sent=sent
    )


def deliver_webhooks(core: Core) -> int:
    """Fan the outbox out into messages, then send every message that is due."""
    limit = core.config.webhooks.max_payload_bytes
    while True:
        with core.transaction() as session:
            if not fanout.fan_out(session, core.urls, core.now(), max_bytes=limit):
                break
    report = channel.run(core)
    core.metrics.webhook_attempts.labels("succeeded").inc(report.succeeded)
    core.metrics.webhook_attempts.labels("failed").inc(report.attempted - report.succeeded)
    return report.attempted


def deliver_websub(core: Core) -> int:
    """Notice what changed in subscribed topics, then send verifications and notifications."""
    websub_distribution.distribute(core)
    if core.config.websub.also_ping:
        websub_pings.run(core)
    return websub_channel.run(core).attempted


# Failures of what the tick depends on, not of its code: while the database is
# down they repeat every poll, so each is one line, not a traceback.
_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError)


def _safe_tick(core: Core) -> None:
    try:
        tick(core)
    except _OUTAGES as error:
        cause = error.orig if isinstance(error, sa_exc.DBAPIError) else error
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        log.error("tick failed: %s; retrying at the next poll", first_line)
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
    # APScheduler logs every run of the tick at INFO; the tick logs what it did itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
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
