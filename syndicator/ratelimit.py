"""A fixed-window request counter, per key, in this process's memory.

Enough to stop one client (or one target address) from flooding the
subscribe form; several web processes each keep their own count.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class RateLimiter:
    def __init__(self, window: timedelta, *, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._counts: dict[object, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: object, limit: int, now: datetime) -> timedelta | None:
        """Count one request; None when allowed, else how long until the window resets."""
        with self._lock:
            started, count = self._counts.get(key, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            if count >= limit:
                return started + self.window - now
            if len(self._counts) >= self.max_keys:
                self._forget_expired(now)
            self._counts[key] = (started, count + 1)
            return None

    def _forget_expired(self, now: datetime) -> None:
        expired = [k for k, (started, _) in self._counts.items() if now - started >= self.window]
        for key in expired:
            del self._counts[key]
        if len(self._counts) >= self.max_keys:
            self._counts.clear()  # under a flood from many keys, memory matters more
