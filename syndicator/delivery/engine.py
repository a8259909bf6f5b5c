"""Sending webhook messages: a run claims, attempts concurrently and records.

A bounded thread pool sends; up to AHEAD x `concurrency` messages are claimed
ahead so the pool never idles while the database is asked for more, and one
transaction records a whole batch of attempts. The queue SQL lives in
`webhook_queue`, the retry rules in `retries`, the HTTP in `webhook_client`.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import __version__
from syndicator.config import Webhooks as WebhookSettings
from syndicator.core import Core
from syndicator.delivery import httpclient, queue, ssrf
from syndicator.delivery.queue import AHEAD, Job
from syndicator.delivery.retries import Outcome
from syndicator.models import WebhookAttempt, WebhookEvent
from syndicator.webhooks import endpoints, signing

USER_AGENT = f"syndicator/{__version__}"


def attempt(
    client: httpclient.Client,
    job: Job,
    clock: Callable[[], datetime],
    *,
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
) -> Outcome:
    """One signed POST; never raises for anything the receiver or the network does."""
    started_at, started = clock(), time.perf_counter()

    def outcome(**fields: object) -> Outcome:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at=started_at, duration_ms=elapsed, **fields)  # type: ignore[arg-type]

    try:
        target = ssrf.check(job.url, allow_private=allow_private, resolver=resolver)
    except ssrf.TargetRefused as refused:
        return outcome(error=f"refused: {refused}")
    headers = signing.headers(job.secrets, job.webhook_id, int(started_at.timestamp()), job.body)
    headers["Content-Type"] = "application/json"
    try:
        answer = client.post(target, headers, job.body)
    except httpclient.SendError as error:
        return outcome(error=str(error))
    error = None
    if 300 <= answer.status_code < 400:
        location = answer.headers.get("location", "")
        error = f"redirect not followed ({answer.status_code} to {location or 'nowhere'})"
    return outcome(
        status_code=answer.status_code,
        error=error,
        response_prefix=answer.prefix.decode("utf-8", errors="replace"),
        retry_after=answer.headers.get("retry-after"),
    )


@dataclass(frozen=True)
class RunReport:
    attempted: int
    succeeded: int


def run(core: Core, *, rng: random.Random | None = None) -> RunReport:
    """Send every message due now, concurrently, until none is left for this run.

    Up to AHEAD x `concurrency` messages are claimed ahead, so the pool never
    idles while the database is asked for more, and one transaction records a
    whole batch of attempts; a queued message starts within AHEAD attempts'
    time, inside its lease.
    """
    settings = core.config.webhooks
    dispatch = _Dispatch(core, rng or random.Random())
    with _client(settings) as client, ThreadPoolExecutor(settings.concurrency) as pool:
        while True:
            dispatch.collect()
            if len(dispatch.in_flight) <= AHEAD * settings.concurrency // 2:
                for job in dispatch.record_and_claim(AHEAD * settings.concurrency):
                    future = pool.submit(
                        attempt,
                        client,
                        job,
                        core.now,
                        allow_private=settings.allow_private_targets,
                        resolver=core.resolver,
                    )
                    dispatch.in_flight[future] = job
                if not dispatch.in_flight:
                    return RunReport(dispatch.attempted, dispatch.succeeded)
            wait(dispatch.in_flight, return_when=FIRST_COMPLETED)


class _Dispatch:
    """The bookkeeping of one run: what is in flight, what awaits recording."""

    def __init__(self, core: Core, rng: random.Random) -> None:
        self.core, self.rng = core, rng
        self.run_id = secrets.token_hex(8)
        self.in_flight: dict[Future[Outcome], Job] = {}
        self.results: list[tuple[Job, Outcome]] = []
        self.attempted = self.succeeded = 0

    def collect(self) -> None:
        done = [future for future in self.in_flight if future.done()]
        self.results += [(self.in_flight.pop(future), future.result()) for future in done]

    def record_and_claim(self, window: int) -> list[Job]:
        settings = self.core.config.webhooks
        busy = Counter(job.endpoint_id for job in self.in_flight.values())
        with self.core.transaction() as session:
            queue.record(session, self.results, settings=settings, rng=self.rng)
            jobs = queue.claim(
                session,
                now=self.core.now(),
                run_id=self.run_id,
                limit=window - len(self.in_flight),
                settings=settings,
                busy=busy,
            )
        self.attempted += len(self.results)
        self.succeeded += sum(outcome.succeeded for _, outcome in self.results)
        self.results = []
        return jobs


def send_test(core: Core, endpoint_id: int) -> int:
    """Queue a webhook.test event for one endpoint and attempt it at once; the message id."""
    with core.transaction() as session:
        message_id = endpoints.queue_test(
            session,
            endpoints.get(session, endpoint_id),
            core.urls,
            core.now(),
            max_bytes=core.config.webhooks.max_payload_bytes,
        )
    deliver_now(core, message_id)
    return message_id


def retry(core: Core, message_id: int) -> None:
    """A manual retry: a fresh schedule, and the first attempt at once."""
    with core.transaction() as session:
        endpoints.requeue(session, endpoints.get_message(session, message_id), core.now())
    deliver_now(core, message_id)


def deliver_now(core: Core, message_id: int) -> bool:
    """Attempt one message at once (test events, manual retries); False if it was taken."""
    settings = core.config.webhooks
    with core.transaction() as session:
        jobs = queue.claim(
            session,
            now=core.now(),
            run_id=secrets.token_hex(8),
            limit=1,
            settings=settings,
            message_ids=[message_id],
        )
    if not jobs:
        return False
    with _client(settings) as client:
        outcome = attempt(
            client,
            jobs[0],
            core.now,
            allow_private=settings.allow_private_targets,
            resolver=core.resolver,
        )
    with core.transaction() as session:
        queue.record(session, [(jobs[0], outcome)], settings=settings, rng=random.Random())
    return True


def _client(settings: WebhookSettings) -> httpclient.Client:
    return httpclient.Client(
        timeout=settings.timeout_seconds,
        user_agent=USER_AGENT,
        idle_per_host=settings.concurrency,
    )


def attempts_of(session: Session, message_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """Each message's attempts, newest first."""
    found: dict[int, list[WebhookAttempt]] = {message_id: [] for message_id in message_ids}
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.message_id.in_(message_ids))
        .order_by(WebhookAttempt.id.desc())
    )
    for row in rows:
        found[row.message_id].append(row)
    return found


def event_types(session: Session, event_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.type).where(WebhookEvent.id.in_(event_ids))
    )
    return {event_id: event_type for event_id, event_type in rows}
