"""Digests end to end through the core: real SMTP (aiosmtpd), real databases, injected clock.

Each post reaches each confirmed subscriber exactly once, across runs, clock
changes, outages and a sender killed half way.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from factories import FakeClock, add_feed, add_post, add_subscriber, build_core
from mail_support import smtp_email_config, smtp_server
from sqlalchemy import func, select

from syndicator import config as config_module
from syndicator import worker
from syndicator.config import Digest
from syndicator.mail import digests, sender, subscriptions, transports
from syndicator.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    Frequency,
    Subscriber,
    SubscriberStatus,
)
from syndicator.models import DeliveryStatus as MailStatus
from syndicator.posts import store


@pytest.fixture
def sink() -> Any:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_core(make_config: Any, clock: FakeClock, sink: Any) -> Any:
    _recorder, port = sink
    instance = build_core(make_config(email=smtp_email_config(port)), clock)
    add_feed(instance)
    yield instance
    instance.close()


def next_morning(clock: FakeClock) -> None:
    """Move to just after the next 07:00 UTC digest slot."""
    moment = clock.moment
    target = moment.replace(hour=7, minute=1, second=0, microsecond=0)
    clock.moment = target if target > moment else target + timedelta(days=1)


def three_readers_due_one_post(core: Any, clock: FakeClock) -> None:
    """reader0..2@example.org, confirmed before "Post one", and their digest due now."""
    add_feed(core)
    for n in range(3):
        add_subscriber(core, f"reader{n}@example.org")
    clock.advance(minutes=1)
    add_post(core, "Post one")
    next_morning(clock)


def titles(message: Any) -> list[str]:
    text = message.get_body(("plain",)).get_content()
    return [line for line in text.splitlines() if line.startswith("Post ")]


def test_each_post_in_exactly_one_digest_across_runs(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=5)
    add_post(mail_core, "Post one")
    add_post(mail_core, "Post two")
    next_morning(clock)
    worker.tick(mail_core)
    clock.advance(hours=3)
    add_post(mail_core, "Post three")  # between the two runs
    worker.tick(mail_core)  # same slot: nothing is due yet
    next_morning(clock)
    worker.tick(mail_core)
    worker.tick(mail_core)

    mails = recorder.to("ann@example.org")
    assert [sorted(titles(m)) for m in mails] == [["Post one", "Post two"], ["Post three"]]
    assert [m["Subject"] for m in mails] == ["News Feed: 2 new posts", "News Feed: 1 new post"]


def test_a_digest_reads_well_in_both_parts(mail_core: Any, sink: Any, clock: FakeClock) -> None:
    """The text part keeps link targets and image descriptions; HTML links wear the site's
    colour; the first digest counts posts since the reader subscribed, later ones since the
    last digest."""
    recorder, _port = sink
    add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=5)
    body = "Start with [the first post](/news/first/) and ![a dolphin leaping](/img/d.jpg). x"
    add_post(mail_core, "Post one", content_source=body)
    next_morning(clock)
    worker.tick(mail_core)
    clock.advance(hours=1)
    add_post(mail_core, "Post two")
    next_morning(clock)
    worker.tick(mail_core)

    first, second = recorder.to("ann@example.org")
    text = first.get_body(("plain",)).get_content()
    html = first.get_body(("html",)).get_content()
    assert (
        "Start with the first post <http://127.0.0.1:8000/news/first/> and a dolphin leaping. x"
        in text
    )
    assert '<a style="color:#0b6e8a;" href="http://127.0.0.1:8000/news/first/"' in html
    assert "1 new post since you subscribed" in text and "1 new post since you subscribed" in html
    assert "1 new post since your last digest" in second.get_body(("plain",)).get_content()


def test_no_mail_when_nothing_is_new(mail_core: Any, sink: Any, clock: FakeClock) -> None:
    recorder, _port = sink
    add_subscriber(mail_core, "ann@example.org")
    for _day in range(3):
        next_morning(clock)
        worker.tick(mail_core)
    assert recorder.received == []


def test_posts_before_confirmation_and_updates_are_not_sent(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    old = add_post(mail_core, "Post old")
    clock.advance(minutes=1)
    add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=1)
    fresh = add_post(mail_core, "Post fresh")
    next_morning(clock)
    worker.tick(mail_core)
    with mail_core.transaction() as session:
        for post_id in (old, fresh):
            post = session.get_one(store.Post, post_id)
            data = store.PostData(title=post.title + " (edited)", published_at=post.published_at)
            store.update(session, post, data, store.Origin(), mail_core.now())
    next_morning(clock)
    worker.tick(mail_core)
    assert [titles(m) for m in recorder.to("ann@example.org")] == [["Post fresh"]]


def test_deleted_post_is_dropped_from_a_pending_digest(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=1)
    keep, gone = add_post(mail_core, "Post kept"), add_post(mail_core, "Post gone")
    next_morning(clock)
    digests.plan_due(mail_core)
    with mail_core.transaction() as session:
        store.delete(session, session.get_one(store.Post, gone), mail_core.now())
    sender.send_pending(mail_core)
    assert keep and [titles(m) for m in recorder.to("ann@example.org")] == [["Post kept"]]


def test_post_moved_back_to_the_future_is_dropped_from_a_pending_digest(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    """The sender asks the same visibility rule as the feeds: a rescheduled post is not mailed."""
    recorder, _port = sink
    add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=1)
    keep, later = add_post(mail_core, "Post kept"), add_post(mail_core, "Post later")
    next_morning(clock)
    digests.plan_due(mail_core)
    with mail_core.transaction() as session:
        post = session.get_one(store.Post, later)
        data = store.PostData(title=post.title, published_at=mail_core.now() + timedelta(days=3))
        store.update(session, post, data, store.Origin(), mail_core.now())
    sender.send_pending(mail_core)
    assert keep and [titles(m) for m in recorder.to("ann@example.org")] == [["Post kept"]]


def test_a_run_sends_what_was_due_when_it_began_while_new_mail_keeps_arriving(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    """Readers who subscribe during a run wait for the next one: a tick always ends."""
    recorder, _port = sink
    for name in ("ann", "bob", "cy"):
        add_subscriber(mail_core, f"{name}@example.org", confirmed=False)
    arrivals = iter(range(30))

    def someone_subscribes(_recipient: str) -> None:
        if (number := next(arrivals, None)) is not None:
            clock.advance(seconds=1)
            add_subscriber(mail_core, f"new{number}@example.org", confirmed=False)

    recorder.data_rule = someone_subscribes
    first = sender.send_pending(mail_core)
    recorder.data_rule = None
    second = sender.send_pending(mail_core)

    assert first.sent == 3  # the three confirmations due when the run began
    assert len(recorder.received) == 3 + second.sent
    assert second.sent >= 1  # the newcomers' mail went out with the next run


def test_unsubscribing_stops_a_digest_already_queued(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    subscriber = add_subscriber(mail_core, "ann@example.org")
    clock.advance(minutes=1)
    add_post(mail_core, "Post one")
    next_morning(clock)
    assert digests.plan_due(mail_core) == 1
    with mail_core.transaction() as session:
        subscriptions.unsubscribe(session, subscriber.unsubscribe_token, mail_core.now())
    report = sender.send_pending(mail_core)
    clock.advance(days=1)
    add_post(mail_core, "Post two")
    next_morning(clock)
    worker.tick(mail_core)
    assert (report.sent, report.skipped) == (0, 1)
    assert recorder.received == []


def test_weekly_subscribers_get_one_digest_on_the_weekly_day(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    add_subscriber(mail_core, "weekly@example.org", frequency="weekly")
    add_subscriber(mail_core, "daily@example.org")
    sent_days = []
    for _day in range(8):  # 2026-11-26 is a Thursday; the weekly day is Monday
        clock.advance(minutes=30)
        add_post(mail_core, f"Post {clock.moment:%a %d}")
        next_morning(clock)
        before = len(recorder.to("weekly@example.org"))
        worker.tick(mail_core)
        if len(recorder.to("weekly@example.org")) > before:
            sent_days.append(clock.moment.strftime("%A"))
    assert sent_days == ["Monday"]
    assert len(recorder.to("daily@example.org")) == 8


@pytest.mark.parametrize(
    ("start", "change_day"),
    [
        (datetime(2026, 3, 27, 12, tzinfo=UTC), 29),  # spring forward: 02:30 never happens
        (datetime(2026, 10, 23, 12, tzinfo=UTC), 25),  # fall back: 02:30 happens twice
    ],
)
def test_one_digest_per_local_day_across_a_clock_change(
    make_config: Any, start: datetime, change_day: int, tmp_path: Path
) -> None:
    clock = FakeClock(start)
    config = make_config(digest={"daily_at": "02:30", "timezone": "Europe/Berlin"})
    core = build_core(config, clock)
    try:
        add_feed(core)
        add_subscriber(core, "ann@example.org")
        clock.advance(minutes=1)
        while clock.moment < start + timedelta(days=4):
            if clock.moment.hour == 12:
                add_post(core, f"Post of {clock.moment:%d}")
            clock.advance(hours=1)  # runs at hh:01 UTC: between the two 02:30s of autumn too
            digests.plan_due(core)  # the digest step of worker.tick, without the other jobs
            sender.send_pending(core)
    finally:
        core.close()
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    berlin = ZoneInfo("Europe/Berlin")
    sent_on = Counter()
    posts_seen = Counter()
    for message in box:
        date = datetime.strptime(message["Date"], "%a, %d %b %Y %H:%M:%S %z").astimezone(berlin)
        sent_on[date.date().day] += 1
        body = message.get_payload()[0].get_payload(decode=True).decode()
        posts_seen.update(line for line in body.splitlines() if line.startswith("Post of"))
    first = start.day + 1
    assert sent_on == Counter({first: 1, first + 1: 1, first + 2: 1, first + 3: 1})
    assert change_day in sent_on
    assert set(posts_seen.values()) == {1} and len(posts_seen) == 4


def test_latest_slot_is_one_instant_per_day_through_dst() -> None:
    settings = Digest(daily_at="02:30", timezone="Europe/Berlin")
    slots = {
        digests.latest_slot(
            datetime(2026, 10, 24, 12, tzinfo=UTC) + timedelta(minutes=10 * i),
            Frequency.DAILY,
            settings,
        )
        for i in range(6 * 48)
    }
    assert sorted(slots) == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first of the two 02:30s
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # 02:30 CET
    ]


def test_smtp_outage_loses_nothing_and_duplicates_nothing(
    make_config: Any, clock: FakeClock
) -> None:
    with smtp_server() as (_recorder, port):
        pass  # the port is known and nothing listens on it now
    core = build_core(make_config(email=smtp_email_config(port)), clock)
    try:
        three_readers_due_one_post(core, clock)
        tick_at = clock.moment
        first = worker.tick(core)
        with core.reading() as session:
            rows = list(session.scalars(select(Delivery).where(Delivery.channel == Channel.MAIL)))
        clock.advance(minutes=1)
        too_soon = sender.send_pending(core)
        clock.advance(hours=1)
        with smtp_server(port=port) as (recorder, _port):
            worker.tick(core)
            worker.tick(core)
    finally:
        core.close()
    assert first.mails_sent == 0
    assert {row.status for row in rows} == {MailStatus.PENDING}
    assert all(row.next_attempt_at > tick_at for row in rows)  # retried later, not lost
    assert too_soon.sent == 0
    assert sorted(r.recipients[0] for r in recorder.received) == [
        f"reader{n}@example.org" for n in range(3)
    ]


def test_4xx_is_retried_and_5xx_bounces_after_the_limit(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    greylisted = {"count": 0}

    def rcpt(address: str) -> str | None:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("grey@") and greylisted["count"] < 2:
            greylisted["count"] += 1
            return "451 4.7.1 greylisted, try again later"
        return None

    recorder.rcpt_rule = rcpt
    add_subscriber(mail_core, "grey@example.org")
    gone = add_subscriber(mail_core, "gone@example.org")
    for day in range(4):
        clock.advance(minutes=5)
        add_post(mail_core, f"Post {day}")
        next_morning(clock)
        for _retry in range(3):
            worker.tick(mail_core)
            clock.advance(minutes=30)
    with mail_core.reading() as session:
        status = session.get_one(Subscriber, gone.id).status
        refused = session.scalars(
            select(Delivery.status).where(Delivery.subscriber_id == gone.id)
        ).all()
    assert [titles(m) for m in recorder.to("grey@example.org")] == [
        [f"Post {day}"] for day in range(4)
    ]
    assert status == SubscriberStatus.BOUNCED
    assert list(refused) == [MailStatus.FAILED] * 3  # no digest after the third refusal
    assert recorder.to("gone@example.org") == []


def test_421_defers_the_batch_and_it_goes_out_later_once(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    recorder, _port = sink
    closing = {"on": True}
    recorder.data_rule = lambda _address: "421 4.3.2 shutting down" if closing["on"] else None
    for n in range(4):
        add_subscriber(mail_core, f"reader{n}@example.org")
    clock.advance(minutes=1)
    add_post(mail_core, "Post one")
    next_morning(clock)
    report = worker.tick(mail_core)
    closing["on"] = False
    clock.advance(minutes=5)
    worker.tick(mail_core)
    worker.tick(mail_core)
    assert report.mails_sent == 0
    assert Counter(r.recipients[0] for r in recorder.received) == Counter(
        {f"reader{n}@example.org": 1 for n in range(4)}
    )


def _write_config(path: Path, database_url: str, port: int, maildir: Path) -> None:
    path.write_text(
        f"""
[storage]
database_url = "{database_url}"
[email]
backend = "smtp"
from = "News <news@example.org>"
maildir = "{maildir}"
lease_seconds = 60
[email.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout_seconds = 5
""",
        encoding="utf-8",
    )


def test_each_mail_is_marked_sending_and_the_one_before_recorded_before_it_can_be_accepted(
    mail_core: Any, sink: Any, clock: FakeClock
) -> None:
    """What a crash at any moment may cost: at most the one mail on the wire is in doubt
    (sent again after a crash), and every mail the server accepted before it is stored
    as sent. Checked in the database as the server receives each mail's bytes."""
    recorder, _port = sink
    for n in range(4):
        add_subscriber(mail_core, f"reader{n}@example.org")
    clock.advance(minutes=1)
    add_post(mail_core, "Post one")
    next_morning(clock)
    digests.plan_due(mail_core)
    seen: list[list[tuple[str, MailStatus]]] = []

    def states_at_data(_address: str) -> str | None:
        with mail_core.reading() as session:
            rows = session.execute(
                select(Subscriber.email, Delivery.status)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .order_by(Delivery.id)
            )
            seen.append([(email, status) for email, status in rows])
        return None  # accepted

    recorder.data_rule = states_at_data
    assert sender.send_pending(mail_core).sent == 4
    readers = [f"reader{n}@example.org" for n in range(4)]
    assert [r.recipients[0] for r in recorder.received] == readers
    expected = [
        [(reader, MailStatus.SUCCEEDED) for reader in readers[:k]]
        + [(readers[k], MailStatus.SENDING)]
        + [(reader, MailStatus.PENDING) for reader in readers[k + 1 :]]
        for k in range(4)
    ]
    assert seen == expected


def test_a_run_killed_half_way_sends_the_rest_once(
    make_config: Any, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    with smtp_server() as (recorder, port):
        core = build_core(
            make_config(email={**smtp_email_config(port), "lease_seconds": 60}), clock
        )
        try:
            add_feed(core)
            for n in range(10):
                add_subscriber(core, f"reader{n}@example.org")
            clock.advance(minutes=5)
            add_post(core, "Post one")
            config_file = tmp_path / "config.toml"
            _write_config(config_file, database_url, port, tmp_path / "mail")
            victim: dict[str, Any] = {}

            def kill_on_fourth(_address: str) -> str | None:
                if len(recorder.received) == 3:  # three accepted; the sender dies on the fourth
                    os.kill(victim["process"].pid, signal.SIGKILL)
                    return "451 4.3.0 sender went away"
                return None

            recorder.data_rule = kill_on_fourth
            victim["process"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "syndicator",
                    "--config",
                    str(config_file),
                    "digest",
                    "send",
                    "--force",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            assert victim["process"].wait(timeout=60) == -signal.SIGKILL
            recorder.data_rule = None
            accepted_before = [r.recipients[0] for r in recorder.received]
            clock.moment = datetime.now(UTC)
            within_lease = sender.send_pending(core)
            clock.advance(minutes=2)  # the dead worker's lease has run out
            after = sender.send_pending(core)
        finally:
            core.close()
    assert len(accepted_before) == 3
    assert within_lease.sent == 0
    assert after.sent == 7
    assert Counter(r.recipients[0] for r in recorder.received) == Counter(
        {f"reader{n}@example.org": 1 for n in range(10)}
    )


def test_a_run_whose_claim_was_taken_over_records_nothing_and_sends_no_more(
    make_config: Any, clock: FakeClock
) -> None:
    """Run A stalls on its first mail past its lease; run B takes the digests over and sends
    them. A's late acceptance is not recorded and A sends none of the rest."""
    stalled, released = threading.Event(), threading.Event()

    def stall_the_first(_address: str) -> str | None:
        if not stalled.is_set():
            stalled.set()
            released.wait(10)
        return None

    with smtp_server() as (slow, slow_port), smtp_server() as (fast, fast_port):
        slow.data_rule = stall_the_first
        core = build_core(make_config(email=smtp_email_config(slow_port)), clock)
        fast_smtp = make_config(email=smtp_email_config(fast_port)).email.smtp
        try:
            three_readers_due_one_post(core, clock)
            digests.plan_due(core)
            with ThreadPoolExecutor(max_workers=1) as pool:
                run_a = pool.submit(sender.send_pending, core)
                assert stalled.wait(10)
                clock.advance(hours=1)  # far past A's lease
                run_b = sender.send_pending(core, transport=transports.SmtpTransport(fast_smtp))
                released.set()
                report_a = run_a.result(timeout=30)
            with core.reading() as session:
                rows = list(
                    session.scalars(
                        select(Delivery)
                        .where(Delivery.channel == Channel.MAIL)
                        .order_by(Delivery.id)
                    )
                )
                attempts = session.scalars(select(func.count()).select_from(DeliveryAttempt)).one()
        finally:
            core.close()
    assert run_b.sent == 3
    assert report_a.sent == 0
    assert len(slow.received) == 1  # only the mail A was sending when it stalled
    assert sorted(r.recipients[0] for r in fast.received) == [
        f"reader{n}@example.org" for n in range(3)
    ]
    # The first went twice (A's and B's try); the others once, from B.
    assert [(row.status, row.attempts) for row in rows] == [
        (MailStatus.SUCCEEDED, 2),
        (MailStatus.SUCCEEDED, 1),
        (MailStatus.SUCCEEDED, 1),
    ]
    assert attempts == 3  # B's; A's late acceptance was dropped


def test_two_workers_on_postgresql_never_send_a_digest_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 11, 26, 12, tzinfo=UTC))
    with smtp_server() as (recorder, port):
        email = {**smtp_email_config(port), "batch_size": 15}
        config = config_module.from_mapping(
            {"storage": {"database_url": postgres_url}, "email": email},
            base_dir=tmp_path,
            env={},
        )
        workers = [build_core(config, clock), build_core(config, clock)]
        try:
            add_feed(workers[0])
            for n in range(120):
                add_subscriber(workers[0], f"reader{n}@example.org")
            clock.advance(minutes=1)
            add_post(workers[0], "Post one")
            next_morning(clock)
            with ThreadPoolExecutor(max_workers=2) as pool:
                planned = list(pool.map(digests.plan_due, workers))
                reports = list(pool.map(sender.send_pending, workers))
        finally:
            for worker_core in workers:
                worker_core.close()
    assert sum(planned) == 120
    assert sum(report.sent for report in reports) == 120
    assert Counter(r.recipients[0] for r in recorder.received) == Counter(
        {f"reader{n}@example.org": 1 for n in range(120)}
    )
