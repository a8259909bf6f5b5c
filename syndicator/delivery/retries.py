"""Retry and disable rules: pure functions over plain values, no I/O.

Success is done; 410 Gone (webhooks) and a permanent refusal (mail 5xx) stop
at once; anything else waits the next delay of the channel's schedule. The
webhook schedule is a list of delays jittered by +-20% so a burst of
failures does not come back as a burst of retries, or longer when a 429/503
asks for it (Retry-After, capped at the schedule's longest delay so a
receiver cannot park a message forever). Mail doubles its delay from a base
up to a cap and never gives up on a temporary failure.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

JITTER = 0.2


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status (or acceptance), or the reason there was none."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_prefix: str | None = None
    retry_after: str | None = None
    # Non-HTTP channels: accepted by the server (mail), refused for good, nothing to send.
    accepted: bool = False
    permanent: bool = False
    skipped: bool = False
    # The connection itself failed: what else this run claimed is put back untried.
    stop_run: bool = False

    @property
    def succeeded(self) -> bool:
        """Accepted, or a 2xx the channel did not refuse (a WebSub callback that answered
        2xx without echoing the challenge is `permanent`)."""
        if self.permanent:
            return False
        return self.accepted or (self.status_code is not None and 200 <= self.status_code < 300)


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"  # the schedule is used up, or refused for good
    GONE = "gone"  # 410: the receiver asked us to stop
    SKIPPED = "skipped"  # nothing left to send


@dataclass(frozen=True)
class RetryDecision:
    verdict: Verdict
    next_attempt_at: datetime | None = None


class Schedule(Protocol):
    def delay(self, attempts_made: int, rng: random.Random) -> float | None:
        """Seconds to wait after attempt `attempts_made` (1-based); None: give up."""

    @property
    def longest(self) -> float:
        """The longest wait this schedule ever asks for (caps Retry-After)."""


@dataclass(frozen=True)
class Jittered:
    """Webhooks: the listed delays, +-20%; past the end of the list, give up."""

    seconds: Sequence[float]

    def delay(self, attempts_made: int, rng: random.Random) -> float | None:
        if attempts_made >= len(self.seconds):
            return None
        return self.seconds[attempts_made] * rng.uniform(1 - JITTER, 1 + JITTER)

    @property
    def longest(self) -> float:
        return max(self.seconds)


@dataclass(frozen=True)
class Doubling:
    """Mail: doubling from `base`, never above `cap`, for as long as it takes."""

    base: float
    cap: float

    def delay(self, attempts_made: int, rng: random.Random) -> float | None:
        return min(self.cap, self.base * 2.0 ** max(0, attempts_made - 1))

    @property
    def longest(self) -> float:
        return self.cap


def decide(
    outcome: Outcome,
    attempts_made: int,
    schedule: Schedule | Sequence[float],
    rng: random.Random,
) -> RetryDecision:
    """After attempt number `attempts_made` (1-based): done, again when, or given up."""
    if isinstance(schedule, Sequence):
        schedule = Jittered(schedule)
    if outcome.skipped:
        return RetryDecision(Verdict.SKIPPED)
    if outcome.succeeded:
        return RetryDecision(Verdict.SUCCEEDED)
    if outcome.status_code == 410:
        return RetryDecision(Verdict.GONE)
    delay = None if outcome.permanent else schedule.delay(attempts_made, rng)
    if delay is None:
        return RetryDecision(Verdict.FAILED)
    if outcome.status_code in (429, 503) and outcome.retry_after:
        asked = retry_after_seconds(outcome.retry_after, outcome.attempted_at)
        if asked is not None:
            delay = max(delay, min(asked, schedule.longest))
    return RetryDecision(Verdict.RETRY, outcome.attempted_at + timedelta(seconds=delay))


_DIGITS = re.compile(r"[0-9]{1,10}")


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Retry-After as seconds: ASCII delta-seconds or an HTTP date; None for anything else.

    `str.isdigit()` would let "²" through to `float()`, which raises.
    """
    value = value.strip()
    if _DIGITS.fullmatch(value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def should_disable(
    failing_since: datetime | None, now: datetime, disable_after_days: float
) -> bool:
    """Every message has failed for `disable_after_days`, with no success in between."""
    return failing_since is not None and now - failing_since >= timedelta(days=disable_after_days)
