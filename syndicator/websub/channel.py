"""The WebSub channel: verifications of intent (GET) and notifications (POST) to callbacks.

Both kinds are messages of the one delivery queue, so they get the engine's
leases, retries on `[webhooks] retry_schedule`, attempt log and replay.
A verification counts only when the callback answers 2xx with the challenge;
a 4xx means the subscriber does not agree. A notification goes only to a
subscription that is active with a running lease, and only while it carries
the topic's newest content (an older one still waiting is skipped). 410 ends
the subscription; other failures never do: it stays until its lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.delivery import contact, engine, httpclient, queue, records
from syndicator.delivery.retries import Outcome, RetryDecision, Verdict
from syndicator.errors import Conflict
from syndicator.models import Channel, WebSubStatus
from syndicator.websub import distribution, signing, subscriptions
from syndicator.websub.intake import Mode
from syndicator.websub.subscriptions import Verification

# A 4xx to a verification: the subscriber does not agree (408 and 429 are worth a retry,
# 410 ends it anyway).
_DISAGREES = frozenset(range(400, 500)) - {408, 410, 429}
_KEPT_BODIES = 16  # contents kept in memory by one run: a change's body is read once


@dataclass(frozen=True)
class Job:
    """A claimed message with all it takes to send it, detached from the session."""

    claimed: queue.Claimed
    callback: str
    topic: str
    verification: Verification | None = None
    secret: str | None = None
    content: distribution.Content | None = None
    skip: str | None = None  # why it must not go


class WebSubChannel(contact.HttpChannel):
    name = Channel.WEBSUB

    def __init__(self, core: Core) -> None:
        super().__init__(core.config.webhooks)
        self.core = core
        self.bodies: dict[int, distribution.Content] = {}

    def targets(self) -> None:
        """Every subscription: whether one may be sent to is decided per message."""

    def load(self, session: Session, claimed: list[queue.Claimed]) -> Sequence[Job]:
        now = self.core.now()
        found = subscriptions.targets(session, {message.target_id for message in claimed})
        wanted = {m.content_id for m in claimed if m.content_id} - set(self.bodies)
        if len(self.bodies) + len(wanted) > _KEPT_BODIES:
            self.bodies.clear()
            wanted = {m.content_id for m in claimed if m.content_id}
        self.bodies.update(distribution.contents(session, wanted))
        newest = distribution.newest(session, {row.topic for row in found.values()})
        jobs = []
        for message in claimed:
            row = found.get(message.target_id)
            if row is None:  # removed while its message was being claimed
                jobs.append(Job(message, "", "", skip="the subscription was removed"))
                continue
            job = Job(message, row.callback, row.topic)
            if message.raw is not None:
                job = replace(job, verification=Verification.decode(message.raw))
            elif (content := self.bodies.get(message.content_id or 0)) is None:
                job = replace(job, skip="its content was replaced and cleaned away")
            elif subscriptions.status_of(row, now) != WebSubStatus.ACTIVE:
                job = replace(job, skip="the subscription is not active")
            elif newest.get(row.topic) != message.content_id:
                job = replace(job, skip="superseded by a newer change of the topic")
            else:
                job = replace(job, content=content, secret=row.secret)
            jobs.append(job)
        return jobs

    def send(self, client: httpclient.Client, job: Job) -> Outcome:
        if job.skip is not None:
            return Outcome(self.core.now(), 0, skipped=True)
        if job.verification is not None:
            return self._verify(client, job, job.verification)
        assert job.content is not None
        headers = {
            "Content-Type": job.content.content_type,
            "Link": self.core.urls.hub_links(job.topic),
        }
        if job.secret:
            headers[signing.HEADER] = signing.signature(job.secret, job.content.body)
        return self._attempt(client, job.callback, headers, job.content.body)

    def _verify(self, client: httpclient.Client, job: Job, asked: Verification) -> Outcome:
        params = {"hub.mode": asked.mode, "hub.topic": job.topic, "hub.challenge": asked.challenge}
        if asked.mode == Mode.SUBSCRIBE:
            params["hub.lease_seconds"] = str(asked.lease_seconds)
        outcome = self._attempt(client, with_query(job.callback, urlencode(params)), {}, None)
        if outcome.succeeded and outcome.response_prefix != asked.challenge:
            error = "the callback answered without echoing hub.challenge"
            return replace(outcome, error=error, permanent=True)
        if outcome.status_code in _DISAGREES:
            return replace(outcome, permanent=True)
        return outcome

    def _attempt(
        self, client: httpclient.Client, url: str, headers: dict[str, str], body: bytes | None
    ) -> Outcome:
        return contact.attempt(
            client,
            url,
            headers,
            body,
            clock=self.core.now,
            allow_private=self.settings.allow_private_targets,
            resolver=self.core.resolver,
        )

    def after(self, tx: records.Tx, job: Job, outcome: Outcome, decision: RetryDecision) -> None:
        """A verification's result sets the subscription; a 410 ends it."""
        subscription_id, now, session = job.claimed.target_id, outcome.attempted_at, tx.session
        metrics = self.core.metrics
        if job.verification is not None:
            if decision.verdict == Verdict.SUCCEEDED:
                subscriptions.confirm(session, subscription_id, job.verification, now)
            elif decision.verdict in (Verdict.FAILED, Verdict.GONE):
                subscriptions.not_confirmed(session, subscription_id, now)
            metrics.websub_verifications.labels(decision.verdict.value).inc()
            return
        if decision.verdict == Verdict.GONE:
            subscriptions.end(session, subscription_id, WebSubStatus.GONE, now)
        metrics.websub_notifications.labels(decision.verdict.value).inc()


def with_query(callback: str, query: str) -> str:
    """The callback with our parameters added to its own query string."""
    if "?" not in callback:
        return f"{callback}?{query}"
    return callback + ("" if callback.endswith(("?", "&")) else "&") + query


def run(core: Core) -> engine.RunReport:
    return engine.run(core, WebSubChannel(core))


def retry(core: Core, message_id: int) -> None:
    """A manual retry of a notification: a fresh schedule, and the first attempt at once.

    A verification is not replayed: what it asked is dropped once it is done, and
    only the subscriber can ask again."""
    with core.reading() as session:
        message = queue.get(session, message_id, Channel.WEBSUB)
        if message.message_key.startswith(subscriptions.VERIFY_PREFIX):
            raise Conflict("a verification is not replayed: the subscriber subscribes again")
    engine.retry(core, WebSubChannel(core), message_id)
