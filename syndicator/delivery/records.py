"""Group commit: writes from many sending threads, committed together, a savepoint each.

Each attempt's record is its own unit: it runs in a SAVEPOINT, so a record
the database refuses rolls back alone and never costs the others. What
arrives while a group is being committed waits for the next group, so under
load one commit carries many records, and with one sender one each. The
caller waits until its record is committed: a channel that sends one message
at a time never starts the next before the last is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session

from syndicator.core import Core


@dataclass
class _Write:
    step: Callable[[Session], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.lock = threading.Lock()
        self.waiting: list[_Write] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")

    def write(self, step: Callable[[Session], Any]) -> Any:
        """Run `step(session)` in the next group; its result once committed, or its error."""
        entry = _Write(step)
        with self.lock:
            self.waiting.append(entry)
        self.writer.submit(self._flush)
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _flush(self) -> None:
        with self.lock:
            group, self.waiting = self.waiting, []
        if not group:
            return
        try:
            with self.core.transaction() as session:
                for entry in group:
                    try:
                        with session.begin_nested():
                            entry.result = entry.step(session)
                    except Exception as error:  # this record only: the rest go on
                        entry.error = error
        except Exception as error:  # the commit itself failed: every record of the group
            for entry in group:
                entry.error = entry.error or error
        finally:
            for entry in group:
                entry.done.set()

    def __enter__(self) -> GroupCommit:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.writer.shutdown()
