"""Sending queued mail: claim with a lease, record each message's state around the send.

A message is `pending` until claimed. Before it goes to the transport it is
marked `sending` (done for message i+1 while message i is on the wire), and
`sent` as soon as the server accepts it, before the next send begins; each
step is committed. A worker killed half way leaves its unsent rows pending or
`sending`; once the lease runs out another run takes them again, with their
same Message-ID. Only the message whose acceptance was not yet committed (a
window of one commit) can go out twice. Several workers on PostgreSQL claim
disjoint rows (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import db
from syndicator.core import Core
from syndicator.delivery import mail_rows
from syndicator.mail import compose, transports
from syndicator.mail.digests import Selection
from syndicator.models import (
    DigestPost,
    Feed,
    MailKind,
    MailMessage,
    Post,
    Subscriber,
    SubscriberStatus,
)
from syndicator.posts import visibility

log = logging.getLogger(__name__)

# The status a subscriber must still have when their mail goes out.
_REQUIRED = {
    MailKind.DIGEST: SubscriberStatus.CONFIRMED,
    MailKind.CONFIRMATION: SubscriberStatus.UNCONFIRMED,
}


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class Job:
    """A claimed message with what it takes to compose it."""

    message: MailMessage
    subscriber: Subscriber
    post_ids: list[int] = field(default_factory=list)


def backoff(attempts: int, base: int, cap: int) -> timedelta:
    """Delay before the next try: doubling from `base`, never above `cap`."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def send_pending(
    core: Core, selection: Selection | None = None, transport: transports.Transport | None = None
) -> SendReport:
    """Send every claimable message once; stop early when the server is unreachable."""
    run = _Run(core, transport or transports.transport_for(core.config))
    try:
        while jobs := run.claim(selection or Selection()):
            if not run.send_batch(jobs):
                break
    finally:
        run.close()
    return run.report


class _Run:
    """One sending pass: its lease owner, transport, and caches of what mails share."""

    def __init__(self, core: Core, transport: transports.Transport) -> None:
        self.core = core
        self.transport = transport
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.letterhead = compose.Letterhead.from_config(core.config, core.timezone)
        self.dkim = transports.dkim_key(core.config)
        self.envelope_sender = transports.address_of(core.config.email.sender)
        self.items: dict[int, compose.Item | None] = {}
        self.feeds: dict[str, Feed] = {}
        self.report = SendReport()
        # One connection for the per-message state changes: no pool round trip each time.
        self.connection = db.writer(core.engine).connect()
        # Composing and recording run here, one at a time, in the order they were asked for.
        self.helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-records")

    def close(self) -> None:
        self.helper.shutdown(cancel_futures=True)
        self.transport.close()
        self.connection.close()

    def claim(self, selection: Selection) -> list[Job]:
        settings = self.core.config.email
        now = self.core.now()
        with self.core.transaction() as session:
            lease_until = now + timedelta(seconds=settings.lease_seconds)
            claimed = mail_rows.claim(
                session,
                now=now,
                owner=self.owner,
                lease_until=lease_until,
                limit=settings.batch_size,
                feed=selection.feed,
                frequency=selection.frequency,
            )
            return self._load(session, claimed) if claimed else []

    def _load(self, session: Session, ids: list[int]) -> list[Job]:
        rows = session.execute(
            select(MailMessage, Subscriber)
            .join(Subscriber, Subscriber.id == MailMessage.subscriber_id)
            .where(MailMessage.id.in_(ids))
            .order_by(MailMessage.id)
        )
        jobs = {message.id: Job(message, subscriber) for message, subscriber in rows}
        held = session.execute(
            select(DigestPost.mail_id, DigestPost.post_id).where(DigestPost.mail_id.in_(ids))
        )
        for mail_id, post_id in held:
            jobs[mail_id].post_ids.append(post_id)
        self._cache_posts(session, {p for job in jobs.values() for p in job.post_ids})
        for job in jobs.values():
            slug = job.subscriber.feed_slug
            if slug not in self.feeds:
                self.feeds[slug] = session.get_one(Feed, slug)
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
            still_visible = post is not None and visibility.is_visible(post, now)
            self.items[post_id] = compose.item(post, self.letterhead) if still_visible else None

    def send_batch(self, jobs: list[Job]) -> bool:
        """Send a claimed batch; False when the connection failed and the rest was put back.

        The database work runs in one helper thread, in order: while message i
        is on the wire, message i+1 is composed and marked `sending`; as soon as
        the server accepts i, it is recorded `sent` before anything else is sent.
        """
        prepared = self.helper.submit(self._prepare, jobs[0])
        for position, job in enumerate(jobs):
            data = prepared.result()
            if position + 1 < len(jobs):
                prepared = self.helper.submit(self._prepare, jobs[position + 1])
            if data is None:
                continue
            try:
                self.transport.send(
                    transports.Envelope(self.envelope_sender, job.subscriber.email, data)
                )
            except transports.TemporaryFailure as failure:
                self._in_order(self._defer, [job], str(failure), tried=True)
                if failure.connection:
                    self._in_order(self._defer, jobs[position + 1 :], str(failure), tried=False)
                    return False
            except transports.PermanentFailure as failure:
                self._in_order(self._fail, job, str(failure))
            else:
                self._in_order(self._sent, job)
        return True

    def _in_order(self, step: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run a record step after every step already queued, and wait for it."""
        self.helper.submit(step, *args, **kwargs).result()

    def _prepare(self, job: Job) -> bytes | None:
        """Compose the message and mark it in flight; None (and skipped) when it must not go.

        It goes ahead only while its subscriber still wants it (an unsubscribe a
        moment ago counts) and this run still holds its lease.
        """
        data = self._compose(job)
        required = _REQUIRED[MailKind(job.message.kind)]
        with self.core.writing(self.connection):
            started = (
                data is not None
                and self.connection.execute(
                    mail_rows.START, self._key(job, required=required)
                ).rowcount
                == 1
            )
        if not started:
            self._skip(job)
            return None
        return data

    def _compose(self, job: Job) -> bytes | None:
        """The bytes to send, DKIM-signed when configured; None when nothing is left to send."""
        data = self._unsigned(job)
        if data is None or self.dkim is None:
            return data
        return transports.sign(data, self.dkim)

    def _unsigned(self, job: Job) -> bytes | None:
        message, subscriber = job.message, job.subscriber
        if message.kind == MailKind.CONFIRMATION:
            return message.raw
        items = [item for post_id in job.post_ids if (item := self.items.get(post_id))]
        if not items:
            return None  # every post of this digest was deleted or unpublished since
        return compose.digest(
            self.letterhead,
            self.feeds[subscriber.feed_slug],
            items,
            compose.Recipient(subscriber.email, subscriber.frequency, subscriber.unsubscribe_token),
            message_id=message.header_id,
            date=message.created_at,
        )

    def _sent(self, job: Job) -> None:
        with self.core.writing(self.connection):
            self.connection.execute(mail_rows.SENT, self._key(job, at=self.core.now()))
            if job.subscriber.bounce_count:
                self.connection.execute(
                    mail_rows.BOUNCES_FORGIVEN, {"subscriber_id": job.subscriber.id}
                )
        self.report.sent += 1

    def _key(self, job: Job, **values: object) -> dict[str, object]:
        return {"mail_id": job.message.id, "owner": self.owner, **values}

    def _skip(self, job: Job) -> None:
        with self.core.writing(self.connection):
            self.connection.execute(mail_rows.SKIP, self._key(job))
        self.report.skipped += 1

    def _defer(self, jobs: list[Job], reason: str, *, tried: bool) -> None:
        settings = self.core.config.email
        now = self.core.now()
        with self.core.transaction() as session:
            for job in jobs:
                attempts = job.message.attempts + 1
                delay = backoff(attempts, settings.retry_base_seconds, settings.retry_max_seconds)
                session.connection().execute(
                    mail_rows.DEFER,
                    self._key(
                        job,
                        retry_at=now + delay,
                        reason=reason if tried else f"not tried: {reason}",
                    ),
                )
        self.report.deferred += len(jobs)
        log.warning("mail deferred (%d messages): %s", len(jobs), reason)

    def _fail(self, job: Job, reason: str) -> None:
        limit = self.core.config.email.bounce_limit
        with self.core.transaction() as session:
            session.connection().execute(mail_rows.FAIL, self._key(job, reason=reason))
            subscriber = session.get_one(Subscriber, job.subscriber.id)
            subscriber.bounce_count += 1
            if subscriber.bounce_count >= limit and subscriber.status == SubscriberStatus.CONFIRMED:
                subscriber.status = SubscriberStatus.BOUNCED
                log.warning("subscriber %d marked bounced after %d refusals", subscriber.id, limit)
        self.report.failed += 1
