"""Operations endpoints: health checks and metrics.

`/healthz` is a load balancer's check of this process: it fails (503) only
when the database does not answer, since a stale worker or a backlog is no
reason to take a web process out of rotation; those show as `degraded`.
`/healthz/deliveries` is for monitoring: it fails on them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from syndicator.core import Core
from syndicator.delivery import heartbeats, queue
from syndicator.models import Channel, WebSubStatus
from syndicator.stats import audience
from syndicator.stats.tally import day_of
from syndicator.web.context import core_of_app
from syndicator.websub import subscriptions

blueprint = Blueprint("ops", __name__)

Check = dict[str, Any]
OK: Check = {"status": "ok"}
PARTS = ("database", "worker", "deliveries", "mail")


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    return _answer(_checks(core_of_app()), failing=())


@blueprint.get("/healthz/deliveries")
def healthz_deliveries() -> tuple[Response, int]:
    return _answer(_checks(core_of_app()), failing=("worker", "deliveries"))


def _answer(checks: dict[str, Check] | None, failing: Iterable[str]) -> tuple[Response, int]:
    """200 unless the database is down or one of the `failing` checks is not ok."""
    if checks is None:
        down = {"status": "error", "reason": "database does not answer"}
        unknown = {"status": "unknown", "reason": "needs the database"}
        parts = {part: down if part == "database" else unknown for part in PARTS}
        return jsonify(status="error", checks=parts), 503
    degraded = any(check["status"] != "ok" for check in checks.values())
    code = 503 if any(checks[part]["status"] != "ok" for part in failing) else 200
    return jsonify(status="degraded" if degraded else "ok", checks=checks), code


def _checks(core: Core) -> dict[str, Check] | None:
    """Each part's check; None when the database does not answer."""
    limits, now = core.config.scheduler, core.now()
    try:
        with core.reading() as session:
            beat_age = heartbeats.last_beat_age(session, now)
            due_ages = queue.oldest_due_age(session, now)
            mail_failure = queue.latest_attempt_failure(session, Channel.MAIL)
    except SQLAlchemyError:
        return None
    return {
        "database": OK,
        "worker": _worker(beat_age, limits.stale_after_seconds),
        "deliveries": _deliveries(due_ages, limits.backlog_alert_seconds),
        "mail": _mail(mail_failure),
    }


def _degraded(reason: str, **details: Any) -> Check:
    return {"status": "degraded", "reason": reason, **details}


def _worker(age: timedelta | None, stale_after: float) -> Check:
    if age is None:
        return _degraded("no worker has ticked yet")
    seconds = round(age.total_seconds(), 1)
    if seconds > stale_after:
        reason = f"no worker has ticked for {seconds:g} s (stale after {stale_after:g} s)"
        return _degraded(reason, last_tick_seconds_ago=seconds)
    return {**OK, "last_tick_seconds_ago": seconds}


def _deliveries(ages: dict[str, float], alert_after: float) -> Check:
    oldest = {channel: round(age, 1) for channel, age in sorted(ages.items())}
    late = [
        f"{channel} message due for {age:g} s"
        for channel, age in oldest.items()
        if age > alert_after
    ]
    if late:
        reason = f"oldest {', '.join(late)} (alert after {alert_after:g} s)"
        return _degraded(reason, oldest_due_seconds=oldest)
    return {**OK, "oldest_due_seconds": oldest}


def _mail(failure: queue.Failure | None) -> Check:
    if failure is None:
        return OK
    reason = f"the latest mail attempt failed: {failure.error}"
    return _degraded(reason, failed_at=failure.attempted_at.isoformat())


@blueprint.get("/metrics")
def metrics() -> Response:
    core = core_of_app()
    if core.config.stats.enabled:
        _set_audience(core)
    try:
        with core.reading() as session:
            by_status = subscriptions.counts(session, core.now())
    except SQLAlchemyError:
        pass  # the database is away: the other metrics still answer, the gauge stands
    else:
        for status in WebSubStatus:
            core.metrics.websub_subscriptions.labels(status.value).set(by_status[status.value])
    body = core.metrics.exposition()
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")


def _set_audience(core: Core) -> None:
    """Today's audience per feed and source, read when scraped; left out if the database is away."""
    try:
        now = core.now()
        with core.reading() as session:
            figures = audience.current(session, core.urls, now, day_of(now, core.timezone))
    except SQLAlchemyError:
        return
    core.metrics.set_audience(
        {
            feed: {name: day.source(name) for name in audience.SOURCES}
            for feed, day in figures.items()
        }
    )
