"""The webhook queue's SQL: claim due messages with a lease, record attempts.

The database is the queue. A claim takes due messages of active endpoints,
never more than `per_endpoint_concurrency` of one endpoint at a time (so a
slow receiver cannot take every slot), and leases them. On PostgreSQL the
claim uses FOR UPDATE SKIP LOCKED, so any number of workers on any number of
machines share the queue without taking the same message; on SQLite the
write lock taken first makes claims one at a time. A crashed worker's leases
simply expire and its messages are claimed again.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from syndicator.config import Webhooks as WebhookSettings
from syndicator.delivery.retries import Outcome, RetryDecision, Verdict, decide, should_disable
from syndicator.models import (
    EndpointStatus,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookMessage,
)
from syndicator.webhooks import endpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A claimed message with all it takes to send it, detached from the session."""

    message_id: int
    webhook_id: str
    endpoint_id: int
    attempts_before: int
    url: str
    secrets: tuple[str, ...]
    body: bytes


AHEAD = 4  # a run claims up to AHEAD * concurrency messages, refilling at half


def lease_for(settings: WebhookSettings) -> timedelta:
    """Covers waiting behind the messages claimed ahead, one attempt, and a wide margin."""
    return timedelta(seconds=(AHEAD + 1) * settings.timeout_seconds + 60)


def claim(
    session: Session,
    *,
    now: datetime,
    run_id: str,
    limit: int,
    settings: WebhookSettings,
    busy: Counter[int] | None = None,
    message_ids: Iterable[int] | None = None,
) -> list[Job]:
    """Lease up to `limit` due messages, at most `per_endpoint` in flight per endpoint.

    Messages this run already attempted (claimed_by == run_id) wait for the next run.
    """
    endpoints.take_write_lock(session)
    busy = Counter(busy or {})
    query = (
        select(
            WebhookMessage.id,
            WebhookMessage.endpoint_id,
            WebhookMessage.webhook_id,
            WebhookMessage.attempts,
            WebhookMessage.event_id,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(
            WebhookMessage.status == MessageStatus.PENDING,
            WebhookEndpoint.status == EndpointStatus.ACTIVE,
            WebhookMessage.next_attempt_at <= now,
            or_(WebhookMessage.lease_until.is_(None), WebhookMessage.lease_until <= now),
            or_(WebhookMessage.claimed_by.is_(None), WebhookMessage.claimed_by != run_id),
        )
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .limit(limit * 4)
        .with_for_update(skip_locked=True, of=WebhookMessage)
    )
    if message_ids is not None:
        query = query.where(WebhookMessage.id.in_(list(message_ids)))
    taken = []
    for row in session.execute(query):
        if len(taken) < limit and busy[row.endpoint_id] < settings.per_endpoint_concurrency:
            busy[row.endpoint_id] += 1
            taken.append(row)
    if not taken:
        return []
    session.execute(
        sa.update(WebhookMessage)
        .where(WebhookMessage.id.in_([row.id for row in taken]))
        .values(lease_until=now + lease_for(settings), claimed_by=run_id)
        .execution_options(synchronize_session=False)
    )
    return _jobs(session, taken, now)


def _jobs(session: Session, taken: list[sa.Row[Any]], now: datetime) -> list[Job]:
    by_id = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({row.endpoint_id for row in taken})
            )
        )
    }
    event_ids = {row.event_id for row in taken}
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.body).where(WebhookEvent.id.in_(event_ids))
    )
    bodies = {event_id: body for event_id, body in rows}
    return [
        Job(
            message_id=row.id,
            webhook_id=row.webhook_id,
            endpoint_id=row.endpoint_id,
            attempts_before=row.attempts,
            url=by_id[row.endpoint_id].url,
            secrets=tuple(endpoints.signing_secrets(by_id[row.endpoint_id], now)),
            body=(bodies[row.event_id] or "").encode("utf-8"),
        )
        for row in taken
    ]


def record(
    session: Session,
    results: list[tuple[Job, Outcome]],
    *,
    settings: WebhookSettings,
    rng: random.Random,
) -> None:
    """Store each attempt, release its lease, and apply the retry and disable rules."""
    endpoints.take_write_lock(session)
    ids = [job.message_id for job, _ in results]
    existing = set(session.scalars(select(WebhookMessage.id).where(WebhookMessage.id.in_(ids))))
    results = [(job, outcome) for job, outcome in results if job.message_id in existing]
    if not results:  # nothing, or the endpoints were deleted while the attempts ran
        return
    session.execute(insert(WebhookAttempt), [_attempt_row(job, o) for job, o in results])
    decided = [
        (job, outcome, decide(outcome, job.attempts_before + 1, settings.retry_schedule, rng))
        for job, outcome in results
    ]
    session.execute(
        sa.update(WebhookMessage),
        [_message_changes(job, decision) for job, _, decision in decided],
    )
    _record_health(session, decided, settings)


def _attempt_row(job: Job, outcome: Outcome) -> dict[str, Any]:
    return {
        "message_id": job.message_id,
        "attempted_at": outcome.attempted_at,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "response_prefix": outcome.response_prefix,
    }


_STATUS_AFTER = {
    Verdict.SUCCEEDED: MessageStatus.SUCCEEDED,
    Verdict.RETRY: MessageStatus.PENDING,
    Verdict.FAILED: MessageStatus.FAILED,
    Verdict.GONE: MessageStatus.FAILED,
}


def _message_changes(job: Job, decision: RetryDecision) -> dict[str, Any]:
    return {
        "id": job.message_id,
        "attempts": job.attempts_before + 1,
        "status": _STATUS_AFTER[decision.verdict],
        "next_attempt_at": decision.next_attempt_at,
        "lease_until": None,
    }


def _record_health(
    session: Session,
    decided: list[tuple[Job, Outcome, RetryDecision]],
    settings: WebhookSettings,
) -> None:
    """A success resets an endpoint's failure clock; failures may disable it."""
    healthy = {job.endpoint_id for job, _, d in decided if d.verdict == Verdict.SUCCEEDED}
    if healthy:
        session.execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(healthy), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
    failed = [(job, o, d) for job, o, d in decided if d.verdict != Verdict.SUCCEEDED]
    if not failed:
        return
    by_id = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({job.endpoint_id for job, _, _ in failed})
            )
        )
    }
    for job, outcome, decision in failed:
        _update_health(by_id[job.endpoint_id], decision.verdict, outcome.attempted_at, settings)


def _update_health(
    endpoint: WebhookEndpoint, verdict: Verdict, now: datetime, settings: WebhookSettings
) -> None:
    if endpoint.status != EndpointStatus.ACTIVE:
        return
    reason = None
    if verdict == Verdict.GONE:
        reason = "the endpoint answered 410 Gone"
    elif endpoint.failing_since is None:
        endpoint.failing_since = now
    elif should_disable(endpoint.failing_since, now, settings.disable_after_days):
        since = endpoint.failing_since.isoformat()
        reason = f"every delivery failed since {since} ({settings.disable_after_days:g} days)"
    if reason is not None:
        endpoints.set_status(endpoint, EndpointStatus.DISABLED, reason, now)
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
