"""Group commit: writes from many sending threads, committed together by one writer.

What arrives while a group is being committed waits for the next group, so
under load one commit carries many writes, and with one sender one each.
A group runs on the writer's own connection with Core statements; an ORM
Session is opened only for a write that asks for one (a claim, a failure's
consequences), as setting one up cost more than the statements of a mail's
record. Writes of one kind (the same `step`) run as one batch: a group's attempt
records become a few statements, not a few per record. Each write is still
its own unit: when a group fails, every write of it is tried again in a
transaction of its own, so a record the database refuses fails alone and
never costs the others. One writer per run also means the run never contends
with itself for SQLite's write lock (whose waits are sleeps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from syndicator import db
from syndicator.core import Core


class Tx:
    """One group's transaction: its connection, and a Session over it only when asked."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """An ORM Session joined to the group's transaction (its commit only flushes)."""
        if self._session is None:
            self._session = Session(self.connection, expire_on_commit=False)
        return self._session

    def flush(self) -> None:
        """Write what the Session holds, before the group's transaction commits."""
        if self._session is not None:
            self._session.commit()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


# Runs a batch of items in a group's transaction; one result per item, in order.
Step = Callable[[Tx, Sequence[Any]], Sequence[Any]]


@dataclass
class Write:
    step: Step
    item: Any
    then: Callable[[Any, BaseException | None], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.arrived = threading.Condition()
        self.waiting: list[Write] = []
        self.closing = False
        # The writer's own connection for the whole run: no pool round trip per group.
        self.connection = db.writer(core.engine).connect()
        self.using = threading.Lock()  # one transaction at a time on that connection
        self.writer = threading.Thread(target=self._run, name="records", daemon=True)
        self.writer.start()

    def submit(
        self,
        step: Step,
        item: Any,
        then: Callable[[Any, BaseException | None], None] | None = None,
    ) -> Write:
        """Run `item` through `step` in the next group; `then(result, error)` once committed."""
        return self.enqueue(Write(step, item, then))

    def enqueue(self, entry: Write) -> Write:
        """Commit `entry` in the next group, on the writer's thread."""
        with self.arrived:
            self.waiting.append(entry)
            self.arrived.notify()
        return entry

    def write(self, once: Callable[[Session], Any]) -> Any:
        """Run `once(session)` in the next group; its result once committed, or its error."""
        entry = self.submit(lambda tx, items: [once(tx.session)], None)
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _run(self) -> None:
        """Commit whatever waits, as one group, until closed and drained."""
        while True:
            with self.arrived:
                while not self.waiting and not self.closing:
                    self.arrived.wait()
                group, self.waiting = self.waiting, []
            if not group:
                return
            with self.using:
                self._flush(group)

    def run_here(self, *entries: Write) -> None:
        """Commit `entries` as one group now, on the caller's thread: no hand-off to
        the writer, for a caller that would only wait for it. Still one writer at a time."""
        if entries:
            with self.using:
                self._flush(list(entries))

    def _flush(self, group: list[Write]) -> None:
        try:
            self._commit(group)
        except Exception:  # find the culprit: each write again, in a transaction of its own
            for entry in group:
                try:
                    self._commit([entry])
                except Exception as error:
                    entry.error = error
        finally:
            for entry in group:
                entry.done.set()
                if entry.then is not None:
                    entry.then(entry.result, entry.error)

    def _commit(self, group: list[Write]) -> None:
        batches: dict[Step, list[Write]] = {}
        for entry in group:
            batches.setdefault(entry.step, []).append(entry)
        # `writing` queues with this process's other SQLite writers and commits at its end.
        tx = Tx(self.connection)
        try:
            with self.core.writing(self.connection):
                for step, entries in batches.items():
                    results = step(tx, [entry.item for entry in entries])
                    for entry, result in zip(entries, results, strict=True):
                        entry.result = result
                tx.flush()
        finally:
            tx.close()

    def __enter__(self) -> GroupCommit:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with self.arrived:
            self.closing = True
            self.arrived.notify()
        self.writer.join()
        self.connection.close()
        self.core.versions.invalidate()
