"""Times as the admin API writes and reads them, and the range every time zone can show.

One format for every resource: RFC 3339 in UTC, whole seconds, `Z`. Webhook
payloads have their own writer in `events`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

# A day inside Python's datetime range at both ends, so every UTC offset can show the moment.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)
_EXAMPLE = "like 2026-05-01T09:00:00Z"
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def rfc3339(moment: datetime) -> str:
    """`2026-05-01T09:00:00Z`: the one way the API shows a time."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rfc3339_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 time (offset required) as aware UTC; ValueError saying what is wrong."""
    if not _RFC3339.fullmatch(value.strip()):
        raise ValueError(f"must be an RFC 3339 time with an offset, {_EXAMPLE}")
    try:
        moment = datetime.fromisoformat(value.strip()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"is not a real date and time, {_EXAMPLE}") from None
    if problem := range_problem(moment):
        raise ValueError(problem)
    return moment


def range_problem(moment: datetime) -> str | None:
    """Why some time zone cannot show `moment` (pages and mail would fail on it), or None."""
    try:
        inside = EARLIEST <= moment.astimezone(UTC) <= LATEST
    except OverflowError:
        inside = False
    if inside:
        return None
    return "must be between 1900-01-01 and 9999-12-30 (UTC), so it exists in every time zone"


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` in `zone`, or in UTC when the zone's offset would leave the calendar.

    Rows stored before the range was enforced may hold such times; showing them
    in UTC beats failing the whole page.
    """
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC)
