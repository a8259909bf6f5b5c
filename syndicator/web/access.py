"""One access-log line and one metric sample per request, whichever path answered it."""

from __future__ import annotations

import logging
import time
from typing import Any

from syndicator.core import Core

access_log = logging.getLogger("syndicator.access")


def observe(
    core: Core, environ: dict[str, Any], endpoint: str, status: int, started: float
) -> None:
    """Count and log a finished request; `endpoint` is its URL rule (the metric label)."""
    elapsed = time.perf_counter() - started
    method = environ.get("REQUEST_METHOD", "GET")
    core.metrics.observe_request(endpoint, method, status, elapsed)
    access_log.info(
        '%s "%s %s" %s %.1fms',
        environ.get("REMOTE_ADDR"),
        method,
        environ.get("PATH_INFO", "/"),
        status,
        elapsed * 1000,
    )
