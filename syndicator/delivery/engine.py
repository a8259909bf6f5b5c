"""The delivery engine: claim -> send -> record, the same for every channel.

A channel (`webhooks.channel`, `mail.sender`) says which targets may be
sent to, how to load what a claimed message needs, how to send one, its retry
schedule and what an outcome means for its target (disable an endpoint,
mark a subscriber bounced). The engine does the rest: leases, heartbeats,
concurrency, the attempt log, retries, manual retry. A bounded thread pool
sends; up to `window` messages are claimed ahead so it never idles while the
database is asked for more. A channel with one sender (mail: one SMTP
connection) sends on the run's own thread instead: passing each message
between threads cost more than the work itself. Each attempt is recorded in its own transaction,
fenced by the claim, so one bad answer never costs the other results and a
run that lost its claim overwrites nothing.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.delivery import heartbeats, queue, records
from syndicator.delivery.retries import Outcome, RetryDecision, Schedule, Verdict, decide
from syndicator.models import IN_FLIGHT, DeliveryStatus
from syndicator.models import Channel as ChannelName

log = logging.getLogger(__name__)

TEXT_LIMIT = 1024  # characters kept of an error or of the answer's first bytes


class Job(Protocol):
    @property
    def claimed(self) -> queue.Claimed: ...


class Channel(Protocol):
    """What the engine asks of a way a message leaves the service."""

    name: ChannelName
    concurrency: int  # attempts in parallel
    window: int  # messages claimed ahead
    per_target: int | None  # attempts in parallel to one target
    lease: timedelta  # covers waiting in the window and one attempt, with a margin
    # A message is marked in flight before it goes (in doubt if we die), and so
    # only after the record of the one before it is committed.
    marks_sending: bool
    schedule: Schedule

    def targets(self) -> sa.Select[Any] | None:
        """The targets that may be sent to now (None: all)."""

    def wanted(self, job: Any) -> queue.Wanted:
        """Checked as the message is marked `sending`: its target still wants it."""

    def prepare(self, job: Any) -> None:
        """Work done ahead of the send, off the senders' threads (composing a mail)."""

    def ahead(self, wire: Any, job: Any) -> None:
        """What of a send may go while its `sending` mark commits, delivering nothing
        (SMTP's MAIL FROM): the receiver works on it meanwhile."""

    def wire(self) -> AbstractContextManager[Any]:
        """The connection every send of a run shares (HTTP client, SMTP transport)."""

    def load(self, session: Session, claimed: list[queue.Claimed]) -> Sequence[Job]:
        """What it takes to send each claimed message, read in the claim's transaction."""

    def send(self, wire: Any, job: Any) -> Outcome:
        """One attempt; never raises for anything the receiver or the network does."""

    def after(self, tx: records.Tx, job: Any, outcome: Outcome, decision: RetryDecision) -> None:
        """What the outcome means for the target (health, bounces), with the record."""


@dataclass(frozen=True)
class RunReport:
    attempted: int
    succeeded: int
    failed: int = 0
    deferred: int = 0
    skipped: int = 0

    @property
    def sent(self) -> int:
        return self.succeeded


def run(core: Core, channel: Channel, *, rng: random.Random | None = None) -> RunReport:
    """Send every message of `channel` due now, until none is left for this run."""
    owner = heartbeats.new_owner()
    dispatch = _Dispatch(core, channel, owner, rng or random.Random())
    with (
        dispatch.records,
        heartbeats.beating(core, owner, dispatch.records.write),
        channel.wire() as wire,
    ):
        if channel.concurrency == 1:
            return _drive_here(dispatch, channel, wire)
        with ThreadPoolExecutor(channel.concurrency) as pool:
            return _drive(dispatch, channel, wire, pool)


def _drive_here(dispatch: _Dispatch, channel: Channel, wire: Any) -> RunReport:
    """One sender: everything on this thread, with no hand-off between threads.

    Each message's `sending` mark is committed in one transaction with the
    record of the message before it: one commit per message, and none goes
    before the one before it is recorded. The last record of a window is
    committed before the next claim.
    """
    while not dispatch.stopped:
        dispatch.ready.extend(dispatch.claim(channel.window))
        if not dispatch.ready:
            break
        unrecorded: list[records.Write] = []
        while dispatch.ready and not dispatch.stopped:
            unrecorded = [dispatch.attempt_here(wire, dispatch.ready.popleft(), unrecorded)]
        dispatch.records.run_here(*unrecorded)
    dispatch.collect()  # after a failed wire: puts back what was not tried
    return dispatch.report()


def _drive(dispatch: _Dispatch, channel: Channel, wire: Any, pool: ThreadPoolExecutor) -> RunReport:
    """Keep up to `window` messages claimed ahead of the senders until none is left.

    Claimed messages wait in `ready`; only twice as many as there are senders
    are handed to the pool at a time, so waiting on them stays cheap.
    """
    refill_at = channel.window // 2
    while True:
        dispatch.collect()
        if not dispatch.stopped and dispatch.held() <= refill_at:
            wanted = channel.window - dispatch.held()
            jobs = dispatch.claim(wanted)
            dispatch.ready.extend(jobs)
            # Short of work: ask again only when the run has halved what it holds.
            refill_at = channel.window // 2 if len(jobs) == wanted else dispatch.held() // 2
        while dispatch.ready and len(dispatch.in_flight) < 2 * channel.concurrency:
            job = dispatch.ready.popleft()
            started = dispatch.prepare(job)
            dispatch.in_flight[pool.submit(dispatch.attempt, wire, job, started)] = job
        if not dispatch.in_flight:
            return dispatch.report()
        wait(dispatch.in_flight, return_when=FIRST_COMPLETED)


class _Dispatch:
    """The bookkeeping of one run: what is in flight, what it counted."""

    def __init__(self, core: Core, channel: Channel, owner: str, rng: random.Random) -> None:
        self.core, self.channel, self.owner, self.rng = core, channel, owner, rng
        # What a run sends: the messages due when it began. Later ones wait for the next
        # tick, so a stream of new mail cannot keep one tick (and what follows it) busy.
        self.due_by = core.now()
        self.in_flight: dict[Future[None], Any] = {}
        self.ready: deque[Any] = deque()
        self.thread = threading.local()  # each sender's last record
        self.counting = threading.Lock()
        self.records = records.GroupCommit(core)
        self.stopped = False
        self.reason = ""
        self.verdicts: Counter[Verdict] = Counter()

    def claim(self, limit: int, ids: list[int] | None = None) -> Sequence[Any]:
        """Lease due messages and load what sending them takes.

        It goes through the same writer as the records, so this process never
        contends with itself for SQLite's write lock.
        """
        held = [*self.in_flight.values(), *self.ready]
        busy = Counter(job.claimed.target_id for job in held)

        def take(session: Session) -> Sequence[Any]:
            now = self.core.now()
            claimed = queue.claim(
                session,
                self.channel.name,
                now=now,
                lease=queue.Lease(self.owner, now + self.channel.lease),
                stale_before=heartbeats.stale_before(self.core, now),
                limit=limit,
                targets=self.channel.targets(),
                per_target=self.channel.per_target,
                waiting=IN_FLIGHT if self.channel.marks_sending else (DeliveryStatus.PENDING,),
                due_by=self.due_by,
                busy=busy,
                ids=ids,
            )
            return self.channel.load(session, claimed) if claimed else []

        jobs: Sequence[Any] = self.records.write(take)
        return jobs

    def prepare(self, job: Any) -> records.Write | None:
        """Work done while the senders are busy: the channel's (composing), and the
        `sending` mark, committed by the writer on its own time."""
        self.channel.prepare(job)
        mark = self.mark(job)
        return None if mark is None else self.records.enqueue(mark)

    def mark(self, job: Any) -> records.Write | None:
        """The `sending` mark of a message, not yet committed (None: its channel marks none).

        Its result: False when the message must not go (no longer ours, or its
        target no longer wants it)."""
        if not self.channel.marks_sending:
            return None
        return records.Write(
            lambda tx, _items: [
                queue.start(tx.connection, job.claimed.id, self.owner, self.channel.wanted(job))
            ],
            None,
        )

    def attempt(self, wire: Any, job: Any, started: records.Write | None) -> None:
        """Send one message and record how it went.

        Nothing is sent after the wire failed (the message goes back untried)
        or when this run no longer holds the message. A message marked
        `sending` goes only once it is marked and once the record of the
        message before it on this thread is committed.
        """
        if self.stopped:
            self.put_back(job)
            return
        if started is not None:
            previous = getattr(self.thread, "record", None)
            for write in (started, previous):
                if write is not None:
                    write.done.wait()
        self.thread.record = self.record(job, self.send(wire, job, started))

    def attempt_here(self, wire: Any, job: Any, unrecorded: list[records.Write]) -> records.Write:
        """Prepare, mark and send one message on this thread; its record, not yet committed.

        `unrecorded` (the record of the message before) is committed with this
        message's `sending` mark, in one transaction, before it goes.
        """
        self.channel.prepare(job)
        mark = self.mark(job)
        self.channel.ahead(wire, job)
        self.records.run_here(*unrecorded, *([mark] if mark is not None else []))
        return self.recording(job, self.send(wire, job, mark))

    def send(self, wire: Any, job: Any, mark: records.Write | None) -> Outcome:
        """One attempt, unless its committed mark says it must not go; a failed wire
        stops the run."""
        if mark is not None and not mark.result:  # skipped, if still ours
            return Outcome(self.core.now(), 0, skipped=True)
        outcome = self.channel.send(wire, job)
        if outcome.stop_run:
            self.reason = outcome.error or "the connection failed"
            self.stopped = True
        return outcome

    def collect(self) -> None:
        """Forget finished attempts; once the wire failed, put back what has not started."""
        for future in [future for future in self.in_flight if future.done()]:
            future.result()
            del self.in_flight[future]
        if self.stopped:
            for future in list(self.in_flight):
                if future.cancel():
                    self.put_back(self.in_flight.pop(future))
            while self.ready:
                self.put_back(self.ready.popleft())

    def held(self) -> int:
        """Messages this run has claimed and not finished."""
        return len(self.in_flight) + len(self.ready)

    def put_back(self, job: Any) -> None:
        """Back to the queue untried (the wire failed first), due after the next delay."""
        claimed = job.claimed
        failed = Outcome(attempted_at=self.core.now(), duration_ms=0, error=self.reason)
        decision = decide(failed, claimed.attempts_before + 1, self.channel.schedule, self.rng)
        result = queue.Result(
            DeliveryStatus.PENDING,
            claimed.attempts_before,
            decision.next_attempt_at,
            None,
            f"not tried: {self.reason}",
        )
        self.records.submit(self._store, _Pending(job, queue.Record(claimed.id, result, None)))
        self.count(Verdict.RETRY)

    def count(self, verdict: Verdict) -> None:
        with self.counting:
            self.verdicts[verdict] += 1

    def record(self, job: Any, outcome: Outcome) -> records.Write:
        """Store the attempt and its consequences, on their own (`records`); not waited for."""
        write = self.recording(job, outcome)
        if self.channel.marks_sending:  # its next message waits for this record anyway
            self.records.run_here(write)
            return write
        return self.records.enqueue(write)

    def recording(self, job: Any, outcome: Outcome) -> records.Write:
        """The record of an attempt, not yet committed: the message's new state, the
        attempt row, what it means for the target, and a log line once committed."""
        outcome = _safe(outcome)
        claimed = job.claimed
        decision = decide(outcome, claimed.attempts_before + 1, self.channel.schedule, self.rng)
        attempt = None if outcome.skipped else _attempt_row(self.channel.name, outcome)
        record = queue.Record(claimed.id, _result(claimed, outcome, decision), attempt)

        def finish(kept: bool | None, error: BaseException | None) -> None:
            if error is not None:  # this record only: the others are stored
                log.error(
                    "%s delivery %d: the attempt could not be recorded: %r",
                    self.channel.name,
                    claimed.id,
                    error,
                )
                return
            _log_attempt(self.channel.name, claimed, outcome, decision, kept=bool(kept))
            if kept:
                self.count(decision.verdict)

        return records.Write(self._store, _Pending(job, record, outcome, decision), finish)

    def _store(self, tx: records.Tx, batch: Sequence[_Pending]) -> list[bool]:
        """Record a batch; what each outcome means for its target, for those still ours."""
        kept = queue.record(tx.connection, self.owner, [p.record for p in batch])
        for pending in batch:
            if pending.record.delivery_id in kept and pending.outcome and pending.decision:
                self.channel.after(tx, pending.job, pending.outcome, pending.decision)
        return [pending.record.delivery_id in kept for pending in batch]

    def report(self) -> RunReport:
        counts = self.verdicts
        return RunReport(
            attempted=sum(n for verdict, n in counts.items() if verdict != Verdict.SKIPPED),
            succeeded=counts[Verdict.SUCCEEDED],
            failed=counts[Verdict.FAILED] + counts[Verdict.GONE],
            deferred=counts[Verdict.RETRY],
            skipped=counts[Verdict.SKIPPED],
        )


@dataclass(frozen=True)
class _Pending:
    """A record waiting for its group commit."""

    job: Any
    record: queue.Record
    outcome: Outcome | None = None
    decision: RetryDecision | None = None


_STATUS_AFTER = {
    Verdict.SUCCEEDED: DeliveryStatus.SUCCEEDED,
    Verdict.RETRY: DeliveryStatus.PENDING,
    Verdict.FAILED: DeliveryStatus.FAILED,
    Verdict.GONE: DeliveryStatus.FAILED,
    Verdict.SKIPPED: DeliveryStatus.SKIPPED,
}


def _result(claimed: queue.Claimed, outcome: Outcome, decision: RetryDecision) -> queue.Result:
    status = _STATUS_AFTER[decision.verdict]
    if decision.verdict == Verdict.GONE:
        error: str | None = queue.GONE
    elif outcome.succeeded or outcome.skipped:
        error = None
    else:
        error = outcome.error or f"HTTP {outcome.status_code}"
    return queue.Result(
        status=status,
        attempts=claimed.attempts_before + (0 if outcome.skipped else 1),
        next_attempt_at=decision.next_attempt_at,
        finished_at=None if status == DeliveryStatus.PENDING else outcome.attempted_at,
        last_error=error,
    )


def _attempt_row(channel: ChannelName, outcome: Outcome) -> dict[str, Any]:
    return {
        "channel": channel,
        "attempted_at": outcome.attempted_at,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "response_prefix": outcome.response_prefix,
    }


def clean_text(value: str | bytes | None, limit: int = TEXT_LIMIT) -> str | None:
    """Text any database stores: valid UTF-8, no NUL (PostgreSQL refuses it), bounded."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value.replace("\x00", "\ufffd")[:limit]


def _safe(outcome: Outcome) -> Outcome:
    return replace(
        outcome,
        error=clean_text(outcome.error),
        response_prefix=clean_text(outcome.response_prefix),
        retry_after=clean_text(outcome.retry_after, 64),
    )


def _log_attempt(
    channel: str, claimed: queue.Claimed, outcome: Outcome, decision: RetryDecision, *, kept: bool
) -> None:
    """One line per attempt: never a secret, a token or a body."""
    if not kept:
        log.warning(
            "%s delivery %d: result dropped, the message is no longer this run's"
            " (another run took it over, or it was withdrawn)",
            channel,
            claimed.id,
        )
        return
    log.info(
        "%s delivery %d to target %d: %s (%s) in %d ms",
        channel,
        claimed.id,
        claimed.target_id,
        decision.verdict,
        outcome.status_code if outcome.status_code is not None else outcome.error or "-",
        outcome.duration_ms,
    )


def deliver_now(core: Core, channel: Channel, delivery_id: int) -> bool:
    """Attempt one message at once (test events, manual retries); False if it was taken."""
    owner = heartbeats.new_owner()
    dispatch = _Dispatch(core, channel, owner, random.Random())
    with dispatch.records, heartbeats.beating(core, owner, dispatch.records.write):
        jobs = dispatch.claim(1, ids=[delivery_id])
        if not jobs:
            return False
        with channel.wire() as wire:
            dispatch.attempt(wire, jobs[0], dispatch.prepare(jobs[0]))
    return True


def retry(core: Core, channel: Channel, delivery_id: int) -> None:
    """A manual retry: a fresh schedule, and the first attempt at once."""
    with core.transaction() as session:
        queue.requeue(session, queue.get(session, delivery_id, channel.name), core.now())
    deliver_now(core, channel, delivery_id)
