"""The delivery log as the API shows it, for every HTTP channel: each message's state and
its attempts, newest first (webhook deliveries and WebSub deliveries add their own fields)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from syndicator import timestamps
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import Channel, Delivery, DeliveryAttempt
from syndicator.web.api import listing, window

ATTEMPT: Table = Table(
    "an attempt",
    (
        Field("at", Kind.TIMESTAMP, read_only=True),
        Field("status_code", Kind.INTEGER, nullable=True, read_only=True),
        Field("duration_ms", Kind.INTEGER, read_only=True),
        Field("error", Kind.TEXT, nullable=True, read_only=True),
        Field("response", Kind.TEXT, "First 1 KiB of the answer.", nullable=True, read_only=True),
    ),
)
STATE: tuple[Field, ...] = (
    Field("created_at", Kind.TIMESTAMP, read_only=True),
    Field("next_attempt_at", Kind.TIMESTAMP, nullable=True, read_only=True),
    Field("attempts", Kind.RECORDS, "Newest first.", records=ATTEMPT, read_only=True),
)


def attempt_dict(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "at": timestamps.rfc3339(attempt.attempted_at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response": attempt.response_prefix,
    }


def log_dicts(
    core: Core, found: list[Delivery], own: Callable[[Delivery], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each message: its channel's own fields (`own`), then its state and attempts."""
    with core.reading() as session:
        attempts = queue.attempts_of(session, [message.id for message in found])
    return [
        {
            **own(message),
            "created_at": timestamps.rfc3339(message.created_at),
            "next_attempt_at": (
                timestamps.rfc3339(message.next_attempt_at) if message.status == "pending" else None
            ),
            "attempts": [attempt_dict(attempt) for attempt in attempts[message.id]],
        }
        for message in found
    ]


def log_page(
    core: Core,
    channel: Channel,
    target_id: int,
    check: Callable[[Any, int], object],
    as_dicts: Callable[[Core, list[Delivery]], list[dict[str, Any]]],
) -> Response:
    """One page of a target's log (`check` raises NotFound for an unknown target)."""
    asked = window()
    with core.reading() as session:
        check(session, target_id)
        found, next_cursor = queue.page(session, channel, target_id, asked)
    return listing(as_dicts(core, found), next_cursor)
