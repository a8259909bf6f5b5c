"""Crash safety and several workers: real `syndicator tick` processes, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from factories import FakeClock, add_feed, build_core
from factories import add_post as publish
from sqlalchemy import func, select
from webhook_support import Receiver, Reply, deliver, real_now

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.delivery import contact
from syndicator.models import Delivery, DeliveryAttempt
from syndicator.webhooks import endpoints, fanout

WORKER_SETTINGS = {"allow_private_targets": True, "timeout_seconds": 2, "concurrency": 8}


def write_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "worker.toml"
    lines = [
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{tmp_path}"',
        f'[email]\nmaildir = "{tmp_path / "mail"}"',
        "[webhooks]\nallow_private_targets = true\ntimeout_seconds = 2\nconcurrency = 8",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_tick(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), "tick"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def register(core: core_module.Core, receiver: Receiver, count: int) -> None:
    with core.transaction() as session:
        for number in range(count):
            fields = {"url": receiver.url(f"/hook/{number}")}
            endpoints.create(session, fields, now=core.now(), allow_private=True)


def by_path(receiver: Receiver) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = defaultdict(set)
    for request in list(receiver.received):
        ids[request.path].add(request.headers["webhook-id"])
    return ids


def kill_mid_fan_out(
    core: Any, receiver: Receiver, start: Callable[[], subprocess.Popen[bytes]]
) -> None:
    """One post for 200 endpoints; the process `start` runs is killed -9 after 40 got it."""
    add_feed(core)
    register(core, receiver, 200)
    publish(core, "Fan out")
    doomed = start()
    wait_for(lambda: len(receiver.received) >= 40, seconds=30)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()


def test_a_killed_worker_loses_nothing(make_config, tmp_path, database_url) -> None:
    clock = FakeClock(real_now())
    core = build_core(make_config(webhooks=WORKER_SETTINGS), clock)
    config = write_config(tmp_path, database_url)
    with Receiver(lambda _r: Reply(delay=0.05)) as receiver:
        try:
            kill_mid_fan_out(core, receiver, lambda: start_tick(config))
            sent_before_kill = len(receiver.received)
            assert sent_before_kill < 200  # killed in the middle of the fan-out
            successor = start_tick(config)
            assert successor.wait(timeout=60) == 0, successor.stderr.read()  # type: ignore[union-attr]
            clock.moment = real_now() + timedelta(minutes=2)  # the dead worker's leases expire
            deliver(core)
            ids = by_path(receiver)
            assert len(ids) == 200  # every endpoint got the event
            assert all(len(found) == 1 for found in ids.values())  # with one webhook-id each
            duplicates = len(receiver.received) - 200
            in_flight = contact.AHEAD * WORKER_SETTINGS["concurrency"]  # claimed at most
            assert 0 <= duplicates <= in_flight  # only messages in flight were sent again
            with core.reading() as session:
                statuses = session.scalars(select(Delivery.status)).all()
            assert sorted(set(statuses)) == ["succeeded"] and len(statuses) == 200
        finally:
            core.close()


def test_two_workers_on_postgresql_never_send_one_attempt_twice(tmp_path, postgres_url) -> None:
    settings = {"storage": {"database_url": postgres_url}, "webhooks": WORKER_SETTINGS}
    config = config_module.from_mapping(
        {**settings, "email": {"maildir": str(tmp_path / "mail")}}, env={}
    )
    core = build_core(config, FakeClock(real_now()))
    path = write_config(tmp_path, postgres_url)
    # Answers slow enough (4 s of work for one worker) that both workers overlap.
    with Receiver(lambda _r: Reply(delay=0.064)) as receiver:
        try:
            add_feed(core)
            register(core, receiver, 100)
            for number in range(5):
                publish(core, f"Post {number}")
            # Fan out first, so both workers find the 500 messages waiting when they start.
            with core.transaction() as session:
                while fanout.fan_out(session, core.urls, core.now(), max_bytes=262144):
                    pass
            workers = [start_tick(path), start_tick(path)]
            for process in workers:
                assert process.wait(timeout=60) == 0, process.stderr.read()  # type: ignore[union-attr]
            webhook_ids = [request.headers["webhook-id"] for request in receiver.received]
            assert len(webhook_ids) == 500 and len(set(webhook_ids)) == 500
            with core.reading() as session:
                assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 500
                runs = set(session.scalars(select(Delivery.lease_owner)))
            assert len(runs) == 2  # both workers took a share
        finally:
            core.close()


def start_worker(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), "worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_killed_worker_is_taken_over_within_seconds(make_config, tmp_path, database_url) -> None:
    """kill -9 mid fan-out to 200 endpoints; a new worker finishes within 30 s, long before
    the dead worker's leases (70 s) run out, because the dead worker stopped beating."""
    clock = FakeClock(real_now())
    core = build_core(make_config(webhooks=WORKER_SETTINGS), clock)
    config = write_config(tmp_path, database_url)
    config.write_text(config.read_text() + "[scheduler]\npoll_seconds = 1\n", encoding="utf-8")
    with Receiver(lambda _r: Reply(delay=0.05)) as receiver:
        try:
            kill_mid_fan_out(core, receiver, lambda: start_worker(config))
            assert len(by_path(receiver)) < 200  # killed in the middle of the fan-out
            killed_at = time.monotonic()
            successor = start_worker(config)
            try:
                wait_for(lambda: len(by_path(receiver)) == 200, seconds=30)
                taken_over_in = time.monotonic() - killed_at
            finally:
                stop(successor)
            ids = by_path(receiver)
            assert all(len(found) == 1 for found in ids.values())  # one webhook-id each
            duplicates = len(receiver.received) - 200
            assert 0 <= duplicates <= contact.AHEAD * WORKER_SETTINGS["concurrency"]
            assert taken_over_in < 30
        finally:
            core.close()
