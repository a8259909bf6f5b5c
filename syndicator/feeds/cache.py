"""Rendered feed bytes, kept until their feed's version moves.

Any process may change a feed; each process reads every feed's version with
one small query at most twice a second, so a change made anywhere is served
everywhere within a second without rendering on every request. While the
database does not answer, the last versions read stand, so feeds already
rendered are still served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from syndicator.errors import StorageUnavailable

log = logging.getLogger(__name__)
# The pseudo-feed whose version is the whole site's (feed slugs never start with "/").
SITE = "/"


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime
    version: int
    # When a scheduled post comes due the bytes are stale, whatever the version says.
    expires_at: datetime | None = None
    # WebSub discovery (`Link: <hub>; rel="hub", <topic>; rel="self"`) of a topic (page 1).
    links: str | None = None
    # Documents made with this one and served under URLs of their own (a sitemap index's
    # parts): kept and dropped with it, so which of them exist is known without a render.
    parts: tuple[Rendered, ...] = ()


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
    """Every feed's version, re-read from the database at most every `ttl` seconds, and the
    site's (`SITE`): a count of the changes this process has seen in any feed's version."""

    def __init__(
        self,
        load: Callable[[], dict[str, tuple[int, datetime]]],
        ttl: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self._ttl, self._monotonic = load, ttl, monotonic
        self._versions: dict[str, tuple[int, datetime]] | None = None
        self._site = 0
        self._read_at: float | None = None
        self._failing = False
        self._lock = threading.Lock()

    def version(self, feed: str) -> int | None:
        """The feed's current version (the site's for `SITE`), or None when no such feed exists.

        StorageUnavailable only when the database has never answered.
        """
        with self._lock:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._refresh()
                self._read_at = now
            assert self._versions is not None
            if feed == SITE:
                return self._site
            entry = self._versions.get(feed)
        return None if entry is None else entry[0]

    def _refresh(self) -> None:
        try:
            loaded = self._load()
        except StorageUnavailable as error:
            if self._versions is None:
                raise
            if not self._failing:
                log.warning("feed versions cannot be refreshed (%s); serving the last known", error)
            self._failing = True
            return
        if self._failing:
            log.warning("feed versions are read again")
        self._failing = False
        if self._versions is None or _numbers(loaded) != _numbers(self._versions):
            self._site += 1  # a feed changed, came or went
        self._versions = loaded

    def invalidate(self) -> None:
        """Forget what was read, after this process changed something itself."""
        with self._lock:
            self._read_at = None


def _numbers(versions: dict[str, tuple[int, datetime]]) -> dict[str, int]:
    return {feed: version for feed, (version, _changed) in versions.items()}
