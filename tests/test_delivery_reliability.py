"""The delivery engine under bad receivers, stalled workers, disabled endpoints and retries."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner
from factories import FakeClock, add_endpoint, add_feed
from factories import add_post as publish
from webhook_support import (
    FAST,
    Received,
    Receiver,
    Reply,
    attempts,
    bodies,
    deliver,
    endpoint,
    messages,
    real_now,
)

from syndicator import core as core_module
from syndicator import worker
from syndicator.cli import cli
from syndicator.delivery import heartbeats, queue
from syndicator.models import EndpointStatus, Post, WebhookEndpoint
from syndicator.posts import store
from syndicator.web import create_app
from syndicator.webhooks import endpoints

TOKEN = "reliability-admin-token-0123456789abcdef"
BAD = Reply(status=429, headers={"Retry-After": "²"}, body=b"no\x00pe \xff\xfe")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(real_now())


@pytest.fixture
def core(make_core: Callable[..., core_module.Core]) -> core_module.Core:
    made = make_core(webhooks=FAST, admin={"token": TOKEN})
    add_feed(made)
    return made


def test_one_bad_receiver_does_not_poison_a_batch(core) -> None:
    """50 healthy endpoints and one answering 429 with a non-ASCII Retry-After and a NUL."""
    with Receiver(lambda request: BAD if request.path == "/bad" else Reply()) as receiver:
        for number in range(50):
            add_endpoint(core, receiver.url(f"/hook/{number}"))
        bad = add_endpoint(core, receiver.url("/bad"))
        publish(core, "Everyone")
        deliver(core)
        deliver(core)
    healthy = [request.path for request in receiver.received if request.path != "/bad"]
    assert sorted(healthy) == sorted(f"/hook/{number}" for number in range(50))
    assert len(receiver.on("/bad")) == 1
    (bad_message,) = [m.id for m in messages(core) if m.endpoint_id == bad.id]
    (logged,) = [a for a in attempts(core) if a.delivery_id == bad_message]
    assert logged.status_code == 429
    assert "\x00" not in (logged.response_prefix or "")
    assert (logged.response_prefix or "").startswith("no")


@pytest.mark.parametrize("reply", [BAD, Reply(status=200, body=b"ok\x00\x00")])
def test_the_test_route_survives_any_answer(core, reply: Reply) -> None:
    client = create_app(core=core).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with Receiver(lambda _request: reply) as receiver:
        created = client.post("/api/webhooks", json={"url": receiver.url()}, headers=auth)
        answer = client.post(f"/api/webhooks/{created.get_json()['id']}/test", headers=auth)
    assert answer.status_code == 200
    (attempt,) = answer.get_json()["attempts"]
    assert attempt["status_code"] == reply.status
    assert "\x00" not in attempt["response"]


def test_a_stalled_run_whose_lease_ran_out_cannot_overwrite_a_newer_result(core, clock) -> None:
    """Run A stalls on a slow answer, its lease runs out, run B delivers: A's failure is dropped."""
    arrived = threading.Event()

    def behaviour(_request: Received) -> Reply:
        if arrived.is_set():
            return Reply()
        arrived.set()
        return Reply(delay=1.5)  # past the 1 s timeout: A records a failure, late

    with Receiver(behaviour) as receiver:
        add_endpoint(core, receiver.url())
        publish(core, "Contested")
        stalled = threading.Thread(target=deliver, args=[core])
        stalled.start()
        assert arrived.wait(10)
        clock.advance(minutes=5)  # far past A's lease
        deliver(core)  # run B takes the message over and delivers it
        stalled.join()
        deliver(core)  # nothing left: delivered once is delivered
    (message,) = messages(core)
    assert message.status == "succeeded"
    assert [a.status_code for a in attempts(core)] == [200]  # A's timeout was not recorded
    assert len(receiver.received) == 2


def test_events_published_while_disabled_are_held_and_sent_after_enable(
    core, make_config, tmp_path
) -> None:
    with Receiver() as receiver:
        hook = add_endpoint(core, receiver.url())
        runner = CliRunner()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\ndatabase_url = "{core.config.database_url}"\n'
            f'content_dir = "{tmp_path}"\n[email]\nmaildir = "{tmp_path / "mail"}"\n',
            encoding="utf-8",
        )
        arguments = ["--config", str(config), "webhooks"]
        assert runner.invoke(cli, [*arguments, "disable", str(hook.id)]).exit_code == 0
        publish(core, "While away")
        deliver(core)
        assert receiver.received == []
        assert runner.invoke(cli, [*arguments, "enable", str(hook.id)]).exit_code == 0
        deliver(core)
    assert [body["data"]["title"] for body in bodies(receiver.received)] == ["While away"]


def test_a_message_refused_with_410_goes_out_again_after_enable(core) -> None:
    answers = iter([Reply(status=410), Reply()])
    with Receiver(lambda _request: next(answers)) as receiver:
        hook = add_endpoint(core, receiver.url())
        publish(core, "Gone then back")
        deliver(core)
        assert endpoint(core, hook.id).status == "disabled"
        client = create_app(core=core).test_client()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        patched = client.patch(f"/api/webhooks/{hook.id}", json={"status": "active"}, headers=auth)
        assert patched.status_code == 200
        deliver(core)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert [m.status for m in messages(core)] == ["succeeded"]


def test_one_posts_events_reach_an_endpoint_in_order_across_retries(core, clock) -> None:
    answers = iter([Reply(status=500), Reply(), Reply()])
    with Receiver(lambda _request: next(answers)) as receiver:
        add_endpoint(core, receiver.url())
        post_id = publish(core, "Short lived")
        with core.transaction() as session:
            store.delete(session, session.get_one(Post, post_id), core.now())
        deliver(core)  # published fails; deleted must wait behind it
        clock.advance(seconds=7)
        deliver(core)
        deliver(core)
    types = [body["type"] for body in bodies(receiver.received)]
    assert types == ["post.published", "post.published", "post.deleted"]


def test_the_payload_timestamp_keeps_sub_second_precision(core, clock) -> None:
    clock.moment = clock.moment.replace(microsecond=250000)
    with Receiver() as receiver:
        add_endpoint(core, receiver.url())
        publish(core, "Precise")
        deliver(core)
    (payload,) = bodies(receiver.received)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.250000Z", payload["timestamp"])


def test_health_reads_the_last_heartbeat_and_the_oldest_due_message(core, clock) -> None:
    with core.reading() as session:
        assert heartbeats.last_beat_age(session, core.now()) is None
    hook = add_endpoint(core, "http://127.0.0.1:9/hook")
    with core.transaction() as session:
        endpoints.set_status(
            session.get_one(WebhookEndpoint, hook.id), EndpointStatus.DISABLED, "x", core.now()
        )
    publish(core, "Waiting")
    worker.tick(core)  # beats, and fans the post out to the disabled endpoint, where it waits
    clock.advance(seconds=30)
    with core.reading() as session:
        assert heartbeats.last_beat_age(session, core.now()) == timedelta(seconds=30)
        assert queue.oldest_due_age(session, core.now()) == {"webhook": 30.0}


def test_the_worker_logs_one_line_per_attempt_and_no_scheduler_chatter(
    make_core, caplog, clock
) -> None:
    core = make_core(webhooks=FAST, scheduler={"poll_seconds": 0.2})
    add_feed(core)
    caplog.set_level(logging.INFO)
    with Receiver() as receiver:
        hook = add_endpoint(core, receiver.url())
        publish(core, "Logged title")
        scheduler = worker.start_in_background(core)
        try:
            deadline = time.monotonic() + 10
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # a few more ticks with nothing to do
        finally:
            scheduler.shutdown(wait=True)
    (message,) = messages(core)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("syndicator.delivery")]
    attempt_lines = [line for line in lines if f"delivery {message.id} " in line]
    assert len(attempt_lines) == 1
    assert re.search(
        rf"webhook delivery {message.id} to target {hook.id}: succeeded \(200\) in \d+ ms",
        attempt_lines[0],
    )
    assert not any(
        hook.secret in r.getMessage() or "Logged title" in r.getMessage() for r in caplog.records
    )
    chatter = [r for r in caplog.records if r.name.startswith("apscheduler")]
    assert [r.getMessage() for r in chatter if r.levelno < logging.WARNING] == []
