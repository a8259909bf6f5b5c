"""Retry and disable rules: pure functions over plain values, no I/O.

Any 2xx is success; 410 Gone stops at once; anything else waits the next
delay of the schedule, jittered by +-20% so a burst of failures does not come
back as a burst of retries, or longer when a 429/503 asks for it (Retry-After,
capped at the schedule's longest delay so a receiver cannot park a message
forever).
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

JITTER = 0.2


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or the reason there was none."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_prefix: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"  # the schedule is used up
    GONE = "gone"  # 410: the receiver asked us to stop


@dataclass(frozen=True)
class RetryDecision:
    verdict: Verdict
    next_attempt_at: datetime | None = None


def decide(
    outcome: Outcome, attempts_made: int, schedule: list[int], rng: random.Random
) -> RetryDecision:
    """After attempt number `attempts_made` (1-based): done, again when, or given up."""
    if outcome.succeeded:
        return RetryDecision(Verdict.SUCCEEDED)
    if outcome.status_code == 410:
        return RetryDecision(Verdict.GONE)
    if attempts_made >= len(schedule):
        return RetryDecision(Verdict.FAILED)
    delay = schedule[attempts_made] * rng.uniform(1 - JITTER, 1 + JITTER)
    if outcome.status_code in (429, 503) and outcome.retry_after:
        asked = retry_after_seconds(outcome.retry_after, outcome.attempted_at)
        if asked is not None:
            delay = max(delay, min(asked, max(schedule)))
    return RetryDecision(Verdict.RETRY, outcome.attempted_at + timedelta(seconds=delay))


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def should_disable(
    failing_since: datetime | None, now: datetime, disable_after_days: float
) -> bool:
    """Every message has failed for `disable_after_days`, with no success in between."""
    return failing_since is not None and now - failing_since >= timedelta(days=disable_after_days)
