"""WebSub across a crash: real `syndicator tick` processes killed with SIGKILL while they
verify callbacks and while they notify them; nothing is lost."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

from factories import FakeClock, add_feed, build_core
from factories import add_post as publish
from sqlalchemy import select
from test_webhook_workers import WORKER_SETTINGS, start_tick, wait_for, write_config
from webhook_support import Receiver, Reply, real_now
from websub_support import echo, notifications, path_of

from syndicator import worker
from syndicator.delivery import contact
from syndicator.models import Delivery, WebSubSubscription
from syndicator.web import create_app

CALLBACKS = 200
TOPIC = "http://127.0.0.1:8000/news/atom.xml"


def slowly(request):  # type: ignore[no-untyped-def]
    reply = echo(request)
    return Reply(reply.status, body=reply.body, delay=0.05)


def kill_after(config, condition) -> None:  # type: ignore[no-untyped-def]
    """Start a tick and kill -9 it once `condition()` holds."""
    doomed = start_tick(config)
    wait_for(condition, seconds=30)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()


def finish(config, core, clock) -> None:  # type: ignore[no-untyped-def]
    """A successor tick, then one more run once the dead worker's leases ran out."""
    successor = start_tick(config)
    assert successor.wait(timeout=60) == 0, successor.stderr.read()  # type: ignore[union-attr]
    clock.moment = real_now() + timedelta(minutes=2)
    worker.deliver_websub(core)


def test_a_worker_killed_while_verifying_and_while_notifying_loses_nothing(
    make_config, tmp_path, database_url
):
    clock = FakeClock(real_now())
    core = build_core(make_config(webhooks=WORKER_SETTINGS), clock)
    config = write_config(tmp_path, database_url)
    client = create_app(core=core).test_client()
    try:
        add_feed(core)
        publish(core, "Before")
        with Receiver(slowly) as receiver:
            for number in range(CALLBACKS):
                form = {
                    "hub.mode": "subscribe",
                    "hub.topic": TOPIC,
                    "hub.callback": receiver.url(f"/cb/{number}"),
                }
                assert client.post("/websub", data=form).status_code == 202
            kill_after(config, lambda: len(receiver.received) >= 40)
            assert len(receiver.received) < CALLBACKS  # killed while verifying
            finish(config, core, clock)
            with core.reading() as session:
                statuses = set(session.scalars(select(WebSubSubscription.status)))
            assert statuses == {"active"}  # every subscription verified

            received_before = len(receiver.received)
            clock.moment = real_now()  # published now, as the tick processes see it
            publish(core, "After the verification")
            kill_after(config, lambda: len(receiver.received) >= received_before + 40)
            notified = {path_of(r) for r in receiver.received if r.method == "POST"}
            assert len(notified) < CALLBACKS  # killed while notifying
            finish(config, core, clock)

            paths = [f"/cb/{number}" for number in range(CALLBACKS)]
            for path in paths:
                got = notifications(receiver, path)
                assert got and all(b"After the verification" in r.body for r in got), path
            duplicates = sum(len(notifications(receiver, path)) for path in paths) - CALLBACKS
            assert 0 <= duplicates <= contact.AHEAD * WORKER_SETTINGS["concurrency"]
        with core.reading() as session:
            assert set(session.scalars(select(Delivery.status))) == {"succeeded"}
    finally:
        core.close()
