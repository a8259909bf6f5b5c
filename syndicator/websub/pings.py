"""Publish pings to external hubs (`[websub] also_ping`): the `websub_hubs` table and the
channel that tells each hub a topic changed (`hub.mode=publish`, `hub.url`).

For publishers who want a public hub as well as ours: each change our
subscribers hear of is pinged to every configured hub, as a message of the
delivery queue, so a hub that is down is retried like any delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.delivery import contact, engine, httpclient, queue, records
from syndicator.delivery.retries import Outcome, RetryDecision
from syndicator.models import Channel, WebSubHub

PING_PREFIX = "websub-ping-"


def queue_pings(
    session: Session, hub_urls: Sequence[str], topic: str, change: int, now: datetime
) -> None:
    """One ping per configured hub for one change of a topic."""
    rows = [
        {
            "websub_hub_id": hub_id,
            "message_key": f"{PING_PREFIX}{change}-{hub_id}",
            "raw": topic.encode(),
        }
        for hub_id in _ids(session, hub_urls, now)
    ]
    queue.add(session, Channel.WEBSUB_PING, rows, now)


def _ids(session: Session, hub_urls: Sequence[str], now: datetime) -> list[int]:
    """The hubs' row ids, adding the ones first configured since the last change."""
    query = select(WebSubHub.url, WebSubHub.id).where(WebSubHub.url.in_(hub_urls))
    known = {url: hub_id for url, hub_id in session.execute(query)}
    for url in hub_urls:
        if url not in known:
            try:
                with session.begin_nested():
                    row = WebSubHub(url=url, created_at=now)
                    session.add(row)
                    session.flush()
                known[url] = row.id
            except exc.IntegrityError:  # a concurrent change added it first
                known[url] = session.scalars(select(WebSubHub.id).where(WebSubHub.url == url)).one()
    return [known[url] for url in hub_urls]


@dataclass(frozen=True)
class Job:
    claimed: queue.Claimed
    hub: str | None  # None: no longer configured
    topic: str


class PingChannel(contact.HttpChannel):
    name = Channel.WEBSUB_PING

    def __init__(self, core: Core) -> None:
        super().__init__(core.config.webhooks)
        self.core = core

    def targets(self) -> None:
        """Every hub: one no longer configured is skipped per message."""

    def load(self, session: Session, claimed: list[queue.Claimed]) -> Sequence[Job]:
        ids = {message.target_id for message in claimed}
        query = select(WebSubHub.id, WebSubHub.url).where(WebSubHub.id.in_(ids))
        configured = set(self.core.config.websub.also_ping)
        urls = {hub_id: url for hub_id, url in session.execute(query) if url in configured}
        return [
            Job(message, urls.get(message.target_id), (message.raw or b"").decode())
            for message in claimed
        ]

    def send(self, client: httpclient.Client, job: Job) -> Outcome:
        if job.hub is None:
            return Outcome(self.core.now(), 0, skipped=True)
        body = urlencode({"hub.mode": "publish", "hub.url": job.topic}).encode()
        return contact.attempt(
            client,
            job.hub,
            {"Content-Type": "application/x-www-form-urlencoded"},
            body,
            clock=self.core.now,
            allow_private=self.settings.allow_private_targets,
            resolver=self.core.resolver,
        )

    def after(self, tx: records.Tx, job: Job, outcome: Outcome, decision: RetryDecision) -> None:
        self.core.metrics.websub_pings.labels(decision.verdict.value).inc()


def run(core: Core) -> engine.RunReport:
    return engine.run(core, PingChannel(core))
