"""Email digest benchmark (issues 5 and 8): sending throughput and memory.

    python bench/digests.py           # 10,000 subscribers, about two minutes
    python bench/digests.py --quick   # 2,000 subscribers, under a minute, noisier

N confirmed subscribers of one feed, a digest of 5 posts each, sent over SMTP
to a local aiosmtpd sink running in its own process (it accepts and discards).

(a) Throughput: `syndicator digest send --force` as a worker runs it (plan the
due digests, claim them with a lease, compose, mark sending, send, mark sent:
one commit per message, holding the previous one's record), timed end
to end, planning included, in a fresh child process. The baseline is the
strongest one: every message's bytes are built first (outside the timed
part), then a bare smtplib loop sends them all over one `smtplib.SMTP`
connection to the same sink, in the same run (once before and once after the
digest run; the faster of the two counts). Target: ratio >= 0.7.
(b) Memory: the child reports its own peak RSS (VmHWM from /proc/self/status)
after sending, at N/5 and N subscribers to show it does not grow with the
list. Target: < 200 MB at N.

Everything runs on a temporary SQLite file. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

# The checkout this file is in, not whatever copy of syndicator the venv has installed:
# `python bench/digests.py` puts bench/ first on the path, not the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.feeds import catalog
from syndicator.mail import compose, digests, sender, subscriptions, transports
from syndicator.models import Feed, Post, Subscriber
from syndicator.posts import store

TARGET_RATIO = 0.7
TARGET_MB = 200
POSTS = 5


class _Counting:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _sink(port: int, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    asyncio.run(asyncio.sleep(3600))


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(folder: Path, port: int) -> config_module.Config:
    return config_module.from_mapping(
        {
            "storage": {"database_url": f"sqlite:///{folder / 'bench.db'}"},
            "email": {
                "backend": "smtp",
                "from": "News <news@example.org>",
                "batch_size": 500,
                "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
            },
        },
        base_dir=folder,
    )


def _populate(core: core_module.Core, subscribers: int) -> None:
    """A feed, N confirmed subscribers (one transaction), then 5 posts."""
    with core.transaction() as session:
        catalog.upsert(session, "news", catalog.FeedSettings(title="News"), core.now())
        for n in range(subscribers):
            request = subscriptions.Request("news", f"reader{n}@example.org")
            subscriptions.add(
                session, request, core.config, core.timezone, core.now(), confirmed=True
            )
    paragraph = "Some words about rivers and the sea, with a [link](/about/). " * 12
    with core.transaction() as session:
        for n in range(POSTS):
            data = store.PostData(
                title=f"Post number {n}",
                published_at=core.now() + timedelta(seconds=n + 1),
                content_source=f"{paragraph}\n\n![a picture](/img/{n}.png)\n\n{paragraph}",
            )
            store.create(
                session, "news", data, store.Origin(), core.now() + timedelta(seconds=n + 1)
            )


def _prebuilt(core: core_module.Core) -> list[tuple[str, bytes]]:
    """The same digests (Message-IDs minted as the planner mints them), built ahead of time."""
    letterhead = compose.Letterhead.from_config(core.config, core.timezone)
    domain = transports.hostname_of(core.config.email.sender)
    with core.reading() as session:
        feed = session.get_one(Feed, "news")
        items = [compose.item(p, feed, letterhead) for p in session.scalars(select(Post))]
        rows = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        return [
            (
                row.email,
                compose.digest(
                    letterhead,
                    feed,
                    items,
                    compose.Recipient(row.email, row.frequency, row.unsubscribe_token),
                    message_id=subscriptions.message_id(core.config, domain),
                    date=core.now(),
                ),
            )
            for row in rows
        ]


def _bare_loop(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Mails per second and CPU µs per mail: prebuilt bytes, one connection, nothing else."""
    started, cpu = time.perf_counter(), _cpu_seconds()
    connection = smtplib.SMTP("127.0.0.1", port)
    for recipient, data in messages:
        connection.sendmail("news@example.org", [recipient], data)
    connection.quit()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return len(messages) / seconds, cpu / len(messages) * 1e6


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: hardly moved by other work on the machine."""
    times = os.times()
    return times.user + times.system


def child(folder: Path, port: int) -> None:
    """One digest run, as `digest send --force` does it; prints rate and peak memory."""
    core = core_module.build(_config(folder, port))
    started, cpu = time.perf_counter(), _cpu_seconds()
    planned = digests.plan_due(core, digests.Selection(force=True))
    planning = time.perf_counter() - started
    report = sender.send_pending(core, digests.Selection(force=True))
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    core.close()
    print(
        json.dumps(
            {
                "planned": planned,
                "sent": report.sent,
                "seconds": elapsed,
                "planning": planning,
                "cpu_us": cpu / max(1, report.sent) * 1e6,
                "peak_mb": _peak_mb(),
            }
        )
    )


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: on Linux that survives exec and
    would report the parent's size at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(folder: Path, port: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(folder), "--port", str(port)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure(subscribers: int, port: int) -> tuple[dict[str, Any], tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clock_at = datetime.now(UTC) - timedelta(hours=1)
        core = core_module.build(_config(folder, port), clock=lambda: clock_at)
        core_module.prepare(core, migrate=True)
        _populate(core, subscribers)
        messages = _prebuilt(core)
        core.close()
        before = _bare_loop(port, messages)
        ours = _run_child(folder, port)
        after = _bare_loop(port, messages)
    return ours, max(before, after)  # the faster bare run: the harder target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2,000 subscribers")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.port)
        return 0
    subscribers = 2_000 if args.quick else args.subscribers
    port = _free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    try:
        small, _ = measure(subscribers // 5, port)
        ours, (bare, bare_cpu) = measure(subscribers, port)
    finally:
        sink.terminate()
    rate = ours["sent"] / ours["seconds"]
    ratio = rate / bare
    print(f"subscribers: {subscribers}, {POSTS} posts per digest, SQLite, SMTP sink process")
    print(f"digest send (plan, claim, compose, send, record): {ours['sent']} mails")
    print(f"  in {ours['seconds']:.1f}s = {rate:,.0f}/s; planning took {ours['planning']:.1f}s")
    print(f"bare smtplib loop, prebuilt messages, one connection: {bare:,.0f}/s")
    print(f"CPU per mail: {ours['cpu_us']:,.0f} µs digest send, {bare_cpu:,.0f} µs bare loop")
    fast_enough = ratio >= TARGET_RATIO and ours["sent"] == subscribers
    small_enough = ours["peak_mb"] < TARGET_MB
    print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}) {_verdict(fast_enough)}")
    print(
        f"peak RSS of the sending process: {small['peak_mb']:.0f} MB at {subscribers // 5} "
        f"subscribers, {ours['peak_mb']:.0f} MB at {subscribers} (target < {TARGET_MB} MB) "
        f"{_verdict(small_enough)}"
    )
    return 0 if fast_enough and small_enough else 1


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    sys.exit(main())
