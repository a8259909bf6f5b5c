"""Rendered feed bytes, kept until their feed's version moves.

Any process may change a feed; each process reads every feed's version with
one small query at most twice a second, so a change made anywhere is served
everywhere within a second without rendering on every request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime
    version: int
    # When a scheduled post comes due the bytes are stale, whatever the version says.
    expires_at: datetime | None = None


class RenderCache:
    """A small thread-safe LRU of rendered documents."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: Hashable, version: int, now: datetime) -> Rendered | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit.version != version or (hit.expires_at is not None and hit.expires_at <= now):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return hit

    def put(self, key: Hashable, rendered: Rendered) -> None:
        with self._lock:
            self._entries[key] = rendered
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class VersionBoard:
    """Every feed's version, re-read from the database at most every `ttl` seconds."""

    def __init__(
        self,
        load: Callable[[], dict[str, tuple[int, datetime]]],
        ttl: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self._ttl, self._monotonic = load, ttl, monotonic
        self._versions: dict[str, tuple[int, datetime]] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def version(self, feed: str) -> int | None:
        """The feed's current version, or None when no such feed exists."""
        with self._lock:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._versions = self._load()
                self._read_at = now
            entry = self._versions.get(feed)
        return None if entry is None else entry[0]

    def invalidate(self) -> None:
        """Forget what was read, after this process changed something itself."""
        with self._lock:
            self._read_at = None
