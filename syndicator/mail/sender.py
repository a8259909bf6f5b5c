"""The mail channel: compose one message and hand it to the transport.

Claiming, leases, retries and the attempt log are the delivery engine's. A
message is marked `sending` just before it goes to the transport and
recorded as soon as the server accepts it, before the next goes (one commit
holds a mail's record and the next one's mark; see `engine._drive_here`): a worker
killed half way leaves its unsent rows to the next run (at once, when its
heartbeat stops), with their same Message-ID; only the message on the wire at
the kill can go out twice. Temporary refusals (4xx) wait a doubling delay; a
connection that fails stops the run and puts back what it had claimed;
`bounce_limit` permanent refusals (5xx) mark a subscriber bounced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.delivery import engine, queue, records
from syndicator.delivery.retries import Doubling, Outcome, RetryDecision, Schedule, Verdict
from syndicator.mail import compose, transports
from syndicator.mail.digests import Selection
from syndicator.models import Channel, DigestPost, Feed, Post, Subscriber, SubscriberStatus
from syndicator.posts import visibility

log = logging.getLogger(__name__)


class Reader(NamedTuple):
    """What sending takes of a subscriber: plain rows, thousands per run, no ORM objects."""

    id: int
    feed_slug: str
    email: str
    frequency: str
    unsubscribe_token: str
    bounce_count: int


_READERS = select(
    Subscriber.id,
    Subscriber.feed_slug,
    Subscriber.email,
    Subscriber.frequency,
    Subscriber.unsubscribe_token,
    Subscriber.bounce_count,
).where(Subscriber.id.in_(bindparam("ids", expanding=True)))
_HELD_POSTS = select(DigestPost.delivery_id, DigestPost.post_id).where(
    DigestPost.delivery_id.in_(bindparam("ids", expanding=True))
)
# Each subscriber's first digest: the one that holds their earliest digest_posts row.
_FIRST_DIGESTS = (
    select(DigestPost.subscriber_id, sa.func.min(DigestPost.delivery_id))
    .where(DigestPost.subscriber_id.in_(bindparam("ids", expanding=True)))
    .group_by(DigestPost.subscriber_id)
)


@dataclass
class Job:
    """A claimed message with what it takes to compose it."""

    claimed: queue.Claimed
    subscriber: Reader
    post_ids: list[int] = field(default_factory=list)
    first_digest: bool = False
    envelope: transports.Envelope | None = None  # composed ahead; None: nothing left to send

    @property
    def required(self) -> SubscriberStatus:
        """The status its subscriber must still have: confirmations have their bytes."""
        if self.claimed.raw is not None:
            return SubscriberStatus.UNCONFIRMED
        return SubscriberStatus.CONFIRMED


_STILL_SUBSCRIBED = exists().where(
    Subscriber.id == bindparam("w_subscriber"), Subscriber.status == bindparam("w_status")
)


class MailChannel:
    name = Channel.MAIL
    marks_sending = True
    concurrency = 1  # one SMTP connection, one message at a time
    per_target: int | None = None

    def __init__(
        self, core: Core, selection: Selection, transport: transports.Transport | None
    ) -> None:
        self.core, self.selection = core, selection
        settings = core.config.email
        self.window = settings.batch_size
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.schedule: Schedule = Doubling(settings.retry_base_seconds, settings.retry_max_seconds)
        self.transport = transport
        self.letterhead = compose.Letterhead.from_config(core.config, core.timezone)
        self.dkim = transports.dkim_key(core.config)
        self.envelope_sender = transports.address_of(core.config.email.sender)
        self.items: dict[int, compose.Item | None] = {}
        self.feeds: dict[str, Feed] = {}

    def targets(self) -> sa.Select[Any] | None:
        selection = self.selection
        if selection.feed is None and selection.frequency is None:
            return None
        query = select(Subscriber.id)
        if selection.feed is not None:
            query = query.where(Subscriber.feed_slug == selection.feed)
        if selection.frequency is not None:
            query = query.where(Subscriber.frequency == selection.frequency)
        return query

    @contextmanager
    def wire(self) -> Iterator[transports.Transport]:
        transport = self.transport or transports.transport_for(self.core.config)
        try:
            yield transport
        finally:
            transport.close()

    def load(self, session: Session, claimed: list[queue.Claimed]) -> Sequence[Job]:
        targets = list({message.target_id for message in claimed})
        readers = {row[0]: Reader(*row) for row in session.execute(_READERS, {"ids": targets})}
        jobs = {message.id: Job(message, readers[message.target_id]) for message in claimed}
        held = session.execute(_HELD_POSTS, {"ids": list(jobs)})
        for delivery_id, post_id in held:
            jobs[delivery_id].post_ids.append(post_id)
        for first_id in dict(session.execute(_FIRST_DIGESTS, {"ids": targets}).all()).values():
            if first_id in jobs:
                jobs[first_id].first_digest = True
        for job in jobs.values():
            slug = job.subscriber.feed_slug
            if slug not in self.feeds:
                self.feeds[slug] = session.get_one(Feed, slug)
        self._cache_posts(session, {p for job in jobs.values() for p in job.post_ids})
        return list(jobs.values())

    def _cache_posts(self, session: Session, post_ids: set[int]) -> None:
        missing = post_ids - self.items.keys()
        if not missing:
            return
        found = {
            post.id: post for post in session.scalars(select(Post).where(Post.id.in_(missing)))
        }
        now = self.core.now()
        for post_id in missing:
            post = found.get(post_id)
            if post is None or not visibility.is_visible(post, now):
                self.items[post_id] = None
            else:
                self.items[post_id] = compose.item(
                    post, self.feeds[post.feed_slug], self.letterhead
                )

    def wanted(self, job: Job) -> queue.Wanted:
        """Its subscriber still has the status it had: an unsubscribe a moment ago counts."""
        return _STILL_SUBSCRIBED, {"w_subscriber": job.subscriber.id, "w_status": job.required}

    def prepare(self, job: Job) -> None:
        data = self._compose(job)
        if data is not None:
            job.envelope = transports.Envelope(self.envelope_sender, job.subscriber.email, data)

    def ahead(self, transport: transports.Transport, job: Job) -> None:
        """The envelope's first command goes while the `sending` mark commits."""
        if job.envelope is not None:
            transport.begin(job.envelope)

    def send(self, transport: transports.Transport, job: Job) -> Outcome:
        """Send what `prepare` composed; skipped when nothing is left to send."""
        started_at, started = self.core.now(), time.perf_counter()

        def outcome(**fields: Any) -> Outcome:
            elapsed = int((time.perf_counter() - started) * 1000)
            return Outcome(attempted_at=started_at, duration_ms=elapsed, **fields)

        if job.envelope is None:
            return outcome(skipped=True)
        try:
            transport.send(job.envelope)
        except transports.TemporaryFailure as failure:
            return outcome(error=str(failure), stop_run=failure.connection)
        except transports.PermanentFailure as failure:
            return outcome(error=str(failure), permanent=True)
        return outcome(accepted=True)

    def _compose(self, job: Job) -> bytes | None:
        """The bytes to send, DKIM-signed when configured; None when nothing is left to send."""
        data = self._unsigned(job)
        if data is None or self.dkim is None:
            return data
        return transports.sign(data, self.dkim)

    def _unsigned(self, job: Job) -> bytes | None:
        claimed, subscriber = job.claimed, job.subscriber
        if claimed.raw is not None:
            return claimed.raw
        items = [item for post_id in job.post_ids if (item := self.items.get(post_id))]
        if not items:
            return None  # every post of this digest was deleted or unpublished since
        return compose.digest(
            self.letterhead,
            self.feeds[subscriber.feed_slug],
            items,
            compose.Recipient(
                subscriber.email,
                subscriber.frequency,
                subscriber.unsubscribe_token,
                first_digest=job.first_digest,
            ),
            message_id=claimed.message_key,
            date=claimed.created_at,
        )

    def after(self, tx: records.Tx, job: Job, outcome: Outcome, decision: RetryDecision) -> None:
        """Acceptance forgives earlier refusals; `bounce_limit` refusals mark a bounce."""
        if decision.verdict == Verdict.SUCCEEDED and job.subscriber.bounce_count:
            tx.connection.execute(
                update(Subscriber).where(Subscriber.id == job.subscriber.id).values(bounce_count=0)
            )
        if decision.verdict != Verdict.FAILED:
            return
        limit = self.core.config.email.bounce_limit
        subscriber = tx.session.get_one(Subscriber, job.subscriber.id)
        subscriber.bounce_count += 1
        if subscriber.bounce_count >= limit and subscriber.status == SubscriberStatus.CONFIRMED:
            subscriber.status = SubscriberStatus.BOUNCED
            log.warning("subscriber %d marked bounced after %d refusals", subscriber.id, limit)


def send_pending(
    core: Core, selection: Selection | None = None, transport: transports.Transport | None = None
) -> engine.RunReport:
    """Send every claimable message once; stop early when the server is unreachable."""
    report = engine.run(core, MailChannel(core, selection or Selection(), transport))
    if report.deferred:
        log.warning("mail deferred (%d messages)", report.deferred)
    return report
