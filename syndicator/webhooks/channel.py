"""The webhook channel: a signed POST per message, and what answers mean for an endpoint.

Sending goes through the SSRF guard at every attempt and the pinned HTTP
client; a success resets the endpoint's failure clock, 410 disables it at
once, and failures alone for `disable_after_days` disable it too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import events
from syndicator.core import Core
from syndicator.delivery import contact, engine, httpclient, queue, records, ssrf
from syndicator.delivery.retries import (
    Outcome,
    RetryDecision,
    Verdict,
    should_disable,
)
from syndicator.errors import Conflict
from syndicator.models import Channel, EndpointStatus, WebhookEndpoint, WebhookEvent
from syndicator.webhooks import endpoints, fanout, signing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A claimed message with all it takes to send it, detached from the session."""

    claimed: queue.Claimed
    url: str
    secrets: tuple[str, ...]
    body: bytes
    failing: bool  # the endpoint has a failure streak that a success must end


class WebhookChannel(contact.HttpChannel):
    name = Channel.WEBHOOK

    def __init__(self, core: Core) -> None:
        super().__init__(core.config.webhooks)
        self.core = core

    def targets(self) -> sa.Select[Any]:
        return select(WebhookEndpoint.id).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)

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
    timestamp = int(clock().timestamp())
    headers = signing.headers(job.secrets, job.claimed.message_key, timestamp, job.body)
    headers["Content-Type"] = "application/json"
    return contact.attempt(
        client,
        job.url,
        headers,
        job.body,
        clock=clock,
        allow_private=allow_private,
        resolver=resolver,
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
