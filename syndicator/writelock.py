"""First come, first served: the order in which one process's threads write to SQLite.

SQLite has one write lock per database. A writer that finds it taken sleeps
and polls again (busy_timeout), with sleeps growing to 100 ms, so a thread
that commits and writes again at once keeps winning while another waits for
seconds. Queueing this process's writers here first hands the lock over in
arrival order, with no polling: under six concurrent writers the slowest
writes went from about a second to about 100 ms (bench/writes.py). Other
processes still meet at SQLite's own lock.
"""

from __future__ import annotations

import threading
from types import TracebackType


class FifoLock:
    """A re-entrant lock granted in the order it was asked for."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> FifoLock:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._next_ticket
            self._next_ticket += 1
            self._condition.wait_for(lambda: self._serving == ticket)
            self._owner, self._depth = me, 1
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        with self._condition:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            self._serving += 1
            self._condition.notify_all()
