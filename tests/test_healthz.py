"""Health checks: /healthz for a load balancer, /healthz/deliveries for monitoring."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from factories import add_endpoint, add_feed
from factories import add_post as publish
from mail_support import free_port, reader_with_one_new_post, smtp_email_config, smtp_server
from sqlalchemy import event
from webhook_support import FAST

from syndicator import config as config_module
from syndicator import worker
from syndicator.delivery import heartbeats
from syndicator.errors import ConfigError
from syndicator.web import create_app
from syndicator.webhooks import fanout

STALE_AFTER, BACKLOG_ALERT = 120, 900
LIMITS = {"stale_after_seconds": STALE_AFTER, "backlog_alert_seconds": BACKLOG_ALERT}


def health(core: Any) -> dict[str, tuple[int, dict[str, Any]]]:
    """Both routes' status code and body."""
    client = create_app(core=core).test_client()
    answers = {}
    for route in ("/healthz", "/healthz/deliveries"):
        response = client.get(route)
        answers[route] = (response.status_code, response.get_json())
    return answers


def test_a_worker_that_just_ticked_and_no_backlog_is_ok_on_both_routes(make_core, clock):
    core = make_core(scheduler=LIMITS)
    heartbeats.beat(core)
    clock.advance(seconds=30)
    for route, (code, body) in health(core).items():
        assert code == 200, route
        assert body["status"] == "ok"
        assert set(body["checks"]) == {"database", "worker", "deliveries", "mail"}
        assert all(check["status"] == "ok" for check in body["checks"].values())
        assert body["checks"]["worker"]["last_tick_seconds_ago"] == 30


def test_no_worker_ever_is_degraded_for_the_balancer_and_an_alert_for_monitoring(make_core):
    answers = health(make_core(scheduler=LIMITS))
    code, body = answers["/healthz"]
    assert code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {"status": "degraded", "reason": "no worker has ticked yet"}
    assert body["checks"]["database"]["status"] == "ok"
    code, body = answers["/healthz/deliveries"]
    assert code == 503
    assert body["checks"]["worker"]["status"] == "degraded"


def test_a_worker_silent_for_longer_than_stale_after_is_degraded_and_alerts(make_core, clock):
    core = make_core(scheduler=LIMITS)
    heartbeats.beat(core)
    clock.advance(seconds=STALE_AFTER - 1)
    assert health(core)["/healthz/deliveries"][0] == 200
    clock.advance(seconds=2)
    answers = health(core)
    code, body = answers["/healthz"]
    assert (code, body["status"]) == (200, "degraded")
    worker_check = body["checks"]["worker"]
    assert worker_check["status"] == "degraded"
    assert "121 s (stale after 120 s)" in worker_check["reason"]
    assert answers["/healthz/deliveries"][0] == 503


def test_an_old_due_webhook_message_names_its_channel_and_alerts(make_core, clock):
    core = make_core(scheduler=LIMITS, webhooks=FAST)
    add_feed(core)
    add_endpoint(core, "http://127.0.0.1:9/hook")
    publish(core, "Hello")
    with core.transaction() as session:  # queued, but no worker sends it
        fanout.fan_out(session, core.urls, core.now(), max_bytes=1_000_000)
    clock.advance(seconds=BACKLOG_ALERT + 60)
    heartbeats.beat(core)  # a worker is alive: only the backlog is wrong
    answers = health(core)
    code, body = answers["/healthz"]
    assert (code, body["status"]) == (200, "degraded")
    deliveries = body["checks"]["deliveries"]
    assert deliveries["status"] == "degraded"
    assert deliveries["oldest_due_seconds"] == {"webhook": BACKLOG_ALERT + 60}
    assert "webhook message due for 960 s" in deliveries["reason"]
    assert body["checks"]["worker"]["status"] == "ok"
    code, body = answers["/healthz/deliveries"]
    assert code == 503
    assert body["checks"]["deliveries"]["status"] == "degraded"


def test_a_mail_transport_failure_shows_until_a_mail_goes_out(make_core, clock):
    port = free_port()  # nothing listens here yet
    core = make_core(scheduler=LIMITS, email=smtp_email_config(port))
    add_feed(core)
    reader_with_one_new_post(core, clock)
    worker.tick(core)
    answers = health(core)
    code, body = answers["/healthz"]
    assert (code, body["status"]) == (200, "degraded")
    mail = body["checks"]["mail"]
    assert mail["status"] == "degraded"
    assert mail["reason"].startswith("the latest mail attempt failed: ")
    assert "cannot connect to SMTP" in mail["reason"]
    assert mail["failed_at"] == clock().isoformat()
    # A failing transport is no delivery alert: the worker runs and nothing is overdue.
    assert answers["/healthz/deliveries"][0] == 200

    with smtp_server(port=port) as (recorder, _):
        clock.advance(hours=1)  # past the retry delay
        worker.tick(core)
    assert len(recorder.received) == 1
    code, body = health(core)["/healthz"]
    assert (code, body["status"]) == (200, "ok")
    assert body["checks"]["mail"] == {"status": "ok"}


def test_the_mail_check_is_one_index_probe_whatever_the_size_of_the_attempt_log(make_core):
    """/healthz runs often; its "latest mail attempt" must not walk every mail delivery
    (at 50,000 of them it took 50 ms on SQLite). The query it runs, as the database
    plans it: a walk of the (channel, id) index that stops at the first row."""
    core = make_core(scheduler=LIMITS)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "delivery_attempts" in statement:
            seen.append((statement, parameters))

    event.listen(core.engine, "before_cursor_execute", record)
    try:
        assert health(core)["/healthz"][1]["checks"]["mail"] == {"status": "ok"}
    finally:
        event.remove(core.engine, "before_cursor_execute", record)
    statement, parameters = seen[0]
    assert {query for query, _ in seen} == {statement}  # the one query, once per route
    with core.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            steps = [row[3] for row in plan]
            assert steps == [
                "SEARCH delivery_attempts USING INDEX ix_delivery_attempts_channel (channel=?)"
            ]
        else:  # an empty table: make the planner say what it would do with a big one
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_sort = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            steps = [row[0].strip().removeprefix("->").strip().split("  ")[0] for row in plan]
            assert steps[:2] == [
                "Limit",
                "Index Scan Backward using ix_delivery_attempts_channel on delivery_attempts",
            ]
            assert not any("Sort" in step or "Seq Scan" in step for step in steps)
            connection.rollback()


def test_both_routes_are_logged_and_counted_like_any_other(make_core, caplog):
    core = make_core(scheduler=LIMITS)
    client = create_app(core=core).test_client()
    with caplog.at_level(logging.INFO, logger="syndicator.access"):
        client.get("/healthz")
        client.get("/healthz/deliveries")
    lines = [r.getMessage() for r in caplog.records if r.name == "syndicator.access"]
    assert '"GET /healthz" 200' in lines[0]
    assert '"GET /healthz/deliveries" 503' in lines[1]
    body = client.get("/metrics").data.decode()
    assert 'endpoint="/healthz",method="GET",status="200"} 1.0' in body
    assert 'endpoint="/healthz/deliveries",method="GET",status="503"} 1.0' in body


def test_health_limits_must_be_positive(tmp_path):
    for key in LIMITS:
        with pytest.raises(ConfigError, match=f"scheduler.{key}"):
            config_module.from_mapping({"scheduler": {key: 0}}, base_dir=tmp_path, env={})
    defaults = config_module.from_mapping({}, base_dir=tmp_path, env={}).scheduler
    assert (defaults.stale_after_seconds, defaults.backlog_alert_seconds) == (120, 900)
