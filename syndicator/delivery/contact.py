"""One HTTP attempt of a channel as an `Outcome`: SSRF guard, pinned client, no redirect.

Webhooks and WebSub contact receivers the same way; only what they send and
what counts as success differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from syndicator import __version__
from syndicator.config import Webhooks
from syndicator.delivery import engine, httpclient, queue, ssrf
from syndicator.delivery.retries import Jittered, Outcome, Schedule

USER_AGENT = f"syndicator/{__version__}"
AHEAD = 8  # a run claims up to AHEAD * concurrency messages, refilling at half


class HttpChannel:
    """What the HTTP channels share: `[webhooks]` sets their pace, lease and schedule,
    and a run's sends share one pinned client. Their messages are never marked `sending`
    (a body sent twice is harmless; receivers dedupe)."""

    marks_sending = False

    def __init__(self, settings: Webhooks) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self.window = AHEAD * settings.concurrency
        self.per_target: int | None = settings.per_endpoint_concurrency
        # Covers waiting behind the messages claimed ahead, one attempt, and a wide margin.
        self.lease = timedelta(seconds=(AHEAD + 1) * settings.timeout_seconds + 60)
        self.schedule: Schedule = Jittered(settings.retry_schedule)

    def wanted(self, job: Any) -> queue.Wanted:
        """Never asked: these messages are not marked `sending`."""
        return sa.true(), {}

    def prepare(self, job: Any) -> None:
        """Nothing: the body was rendered once, before any message existed."""

    def ahead(self, client: httpclient.Client, job: Any) -> None:
        """An HTTP request is one exchange: nothing of it goes before it is sent."""

    @contextmanager
    def wire(self) -> Iterator[httpclient.Client]:
        with httpclient.Client(
            timeout=self.settings.timeout_seconds,
            user_agent=USER_AGENT,
            idle_per_host=self.settings.concurrency,
        ) as client:
            yield client


def attempt(
    client: httpclient.Client,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    clock: Callable[[], datetime],
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
) -> Outcome:
    """POST `body` (GET when None) once; never raises for anything the receiver or network does."""
    started_at, started = clock(), time.perf_counter()

    def outcome(**fields: Any) -> Outcome:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at=started_at, duration_ms=elapsed, **fields)

    try:
        target = ssrf.check(url, allow_private=allow_private, resolver=resolver)
    except ssrf.TargetRefused as refused:
        return outcome(error=f"refused: {refused}")
    try:
        answer = client.get(target, headers) if body is None else client.post(target, headers, body)
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
