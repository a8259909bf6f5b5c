"""The webhook channel: a signed POST per message, and what answers mean for an endpoint.

Sending goes through the SSRF guard at every attempt and the pinned HTTP
client; a success resets the endpoint's failure clock, 410 disables it at
once, and failures alone for `disable_after_days` disable it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import __version__, events
from syndicator.core import Core
from syndicator.delivery import engine, httpclient, queue, records, ssrf
from syndicator.delivery.retries import (
    Jittered,
    Outcome,
    RetryDecision,
    Schedule,
    Verdict,
    should_disable,
)
from syndicator.errors import Conflict
from syndicator.models import Channel, EndpointStatus, WebhookEndpoint, WebhookEvent
from syndicator.webhooks import endpoints, fanout, signing

log = logging.getLogger(__name__)

USER_AGENT = f"syndicator/{__version__}"
AHEAD = 8  # a run claims up to AHEAD * concurrency messages, refilling at half


@dataclass(frozen=True)
class Job:
    """A claimed message with all it takes to send it, detached from the session."""

    claimed: queue.Claimed
    url: str
    secrets: tuple[str, ...]
    body: bytes
    failing: bool  # the endpoint has a failure streak that a success must end


class WebhookChannel:
    name = Channel.WEBHOOK
    marks_sending = False

    def __init__(self, core: Core) -> None:
        self.core = core
        self.settings = settings = core.config.webhooks
        self.concurrency = settings.concurrency
        self.window = AHEAD * settings.concurrency
        self.per_target: int | None = settings.per_endpoint_concurrency
        # Covers waiting behind the messages claimed ahead, one attempt, and a wide margin.
        self.lease = timedelta(seconds=(AHEAD + 1) * settings.timeout_seconds + 60)
        self.schedule: Schedule = Jittered(settings.retry_schedule)

    def targets(self) -> sa.Select[Any]:
        return select(WebhookEndpoint.id).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)

    def wanted(self, job: Job) -> queue.Wanted:
        """Never asked: webhook messages are not marked `sending`."""
        return sa.true(), {}

    def prepare(self, job: Job) -> None:
        """Nothing: the body was rendered once, at fan-out."""

    @contextmanager
    def wire(self) -> Iterator[httpclient.Client]:
        with httpclient.Client(
            timeout=self.settings.timeout_seconds,
            user_agent=USER_AGENT,
            idle_per_host=self.settings.concurrency,
        ) as client:
            yield client

    def load(self, session: Session, claimed: list[queue.Claimed]) -> Sequence[Job]:
        by_id = {
            endpoint.id: endpoint
            for endpoint in session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.id.in_({message.target_id for message in claimed})
                )
            )
        }
        rows = session.execute(
            select(WebhookEvent.id, WebhookEvent.body).where(
                WebhookEvent.id.in_({message.event_id for message in claimed})
            )
        )
        bodies = {event_id: (body or "").encode("utf-8") for event_id, body in rows}
        now = self.core.now()
        return [
            Job(
                claimed=message,
                url=by_id[message.target_id].url,
                secrets=tuple(endpoints.signing_secrets(by_id[message.target_id], now)),
                body=bodies[message.event_id],  # type: ignore[index]
                failing=by_id[message.target_id].failing_since is not None,
            )
            for message in claimed
        ]

    def ahead(self, client: httpclient.Client, job: Job) -> None:
        """A POST is one request: nothing of it goes before it is sent."""

    def send(self, client: httpclient.Client, job: Job) -> Outcome:
        return attempt(
            client,
            job,
            self.core.now,
            allow_private=self.settings.allow_private_targets,
            resolver=self.core.resolver,
        )

    def after(self, tx: records.Tx, job: Job, outcome: Outcome, decision: RetryDecision) -> None:
        """A success resets the endpoint's failure clock; failures may disable it."""
        if decision.verdict == Verdict.SUCCEEDED:
            if job.failing:
                tx.connection.execute(
                    sa.update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == job.claimed.target_id)
                    .values(failing_since=None)
                )
            return
        endpoint = tx.session.get(WebhookEndpoint, job.claimed.target_id)
        if endpoint is not None:
            _update_health(endpoint, decision.verdict, outcome.attempted_at, self.core)


def _update_health(endpoint: WebhookEndpoint, verdict: Verdict, now: datetime, core: Core) -> None:
    if endpoint.status != EndpointStatus.ACTIVE:
        return
    days = core.config.webhooks.disable_after_days
    reason = None
    if verdict == Verdict.GONE:
        reason = "the endpoint answered 410 Gone"
    elif endpoint.failing_since is None:
        endpoint.failing_since = now
    elif should_disable(endpoint.failing_since, now, days):
        reason = f"every delivery failed since {endpoint.failing_since.isoformat()} ({days:g} days)"
    if reason is not None:
        endpoints.set_status(endpoint, EndpointStatus.DISABLED, reason, now)
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def attempt(
    client: httpclient.Client,
    job: Job,
    clock: Any,
    *,
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
) -> Outcome:
    """One signed POST; never raises for anything the receiver or the network does."""
    started_at, started = clock(), time.perf_counter()

    def outcome(**fields: Any) -> Outcome:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at=started_at, duration_ms=elapsed, **fields)

    try:
        target = ssrf.check(job.url, allow_private=allow_private, resolver=resolver)
    except ssrf.TargetRefused as refused:
        return outcome(error=f"refused: {refused}")
    message_id = job.claimed.message_key
    headers = signing.headers(job.secrets, message_id, int(started_at.timestamp()), job.body)
    headers["Content-Type"] = "application/json"
    try:
        answer = client.post(target, headers, job.body)
    except httpclient.SendError as failure:
        return outcome(error=str(failure))
    error = None
    if 300 <= answer.status_code < 400:
        location = engine.clean_text(answer.headers.get("location", ""), 200)
        error = f"redirect not followed ({answer.status_code} to {location or 'nowhere'})"
    return outcome(
        status_code=answer.status_code,
        error=error,
        response_prefix=engine.clean_text(answer.prefix),
        retry_after=answer.headers.get("retry-after"),
    )


def run(core: Core) -> engine.RunReport:
    return engine.run(core, WebhookChannel(core))


def send_test(core: Core, endpoint_id: int) -> int:
    """Queue a webhook.test event for one endpoint and attempt it at once; the message id."""
    with core.transaction() as session:
        endpoint = endpoints.get(session, endpoint_id)
        if endpoint.status != EndpointStatus.ACTIVE:
            raise Conflict("the endpoint is disabled; enable it before sending a test")
        event = events.record_test(session, endpoint.id, core.now())
        session.flush()
        limit = core.config.webhooks.max_payload_bytes
        message_id = fanout.fan_out_test(
            session, event, endpoint, core.urls, core.now(), max_bytes=limit
        )
    engine.deliver_now(core, WebhookChannel(core), message_id)
    return message_id


def retry(core: Core, message_id: int) -> None:
    """A manual retry: a fresh schedule, and the first attempt at once."""
    with core.reading() as session:
        message = queue.get(session, message_id, Channel.WEBHOOK)
        assert message.endpoint_id is not None
        if endpoints.get(session, message.endpoint_id).status != EndpointStatus.ACTIVE:
            raise Conflict("the endpoint is disabled; enable it before retrying")
    engine.retry(core, WebhookChannel(core), message_id)


def event_types(session: Session, event_ids: list[int | None]) -> dict[int | None, str]:
    """The type of each event, for the deliveries listing."""
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.type).where(WebhookEvent.id.in_(event_ids))
    )
    return {event_id: event_type for event_id, event_type in rows}
