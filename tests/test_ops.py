"""Operations: health, metrics, and one log line per request without secrets."""

import logging

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import worker
from syndicator.web import create_app


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == {"status": "ok"}


def unreachable_core(tmp_path):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2"
    config = config_module.from_mapping(
        {"storage": {"database_url": unreachable}}, base_dir=tmp_path, env={}
    )
    return core_module.build(config)


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    core = unreachable_core(tmp_path)
    try:
        response = create_app(core=core).test_client().get("/healthz")
    finally:
        core.close()
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    database = response.get_json()["checks"]["database"]
    assert database == {"status": "error", "reason": "database does not answer"}


def test_a_tick_without_database_logs_one_line_not_a_traceback(tmp_path, caplog):
    core = unreachable_core(tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="syndicator.worker"):
            worker._safe_tick(core)
            worker._safe_tick(core)
    finally:
        core.close()
    records = [record for record in caplog.records if record.name == "syndicator.worker"]
    assert len(records) == 2  # one per failing tick
    for record in records:
        assert record.exc_info is None
        assert "\n" not in record.getMessage()
        assert record.getMessage().startswith("tick failed: ")
        assert "127.0.0.1" in record.getMessage()  # which database, in that one line
    assert "Traceback" not in caplog.text


def test_an_unexpected_tick_failure_keeps_its_traceback(core, monkeypatch, caplog):
    def broken(core):
        raise ValueError("a bug in the tick")

    monkeypatch.setattr(worker, "tick", broken)
    with caplog.at_level(logging.ERROR, logger="syndicator.worker"):
        worker._safe_tick(core)
    (record,) = [record for record in caplog.records if record.name == "syndicator.worker"]
    assert record.exc_info is not None
    assert "ValueError: a bug in the tick" in caplog.text


def test_metrics_count_requests_renders_and_cache_use(blog, sync, client):
    blog.post("hello")
    sync()
    client.get("/news/atom.xml")
    client.get("/news/atom.xml")
    client.get("/missing/")
    body = client.get("/metrics").data.decode()
    requests = [line for line in body.splitlines() if line.startswith("syndicator_http_requests")]
    assert any('endpoint="/<feed>/"' in line and 'status="404"' in line for line in requests)
    assert any(
        "atom.xml" in line and 'status="200"' in line and line.endswith(" 2.0") for line in requests
    )
    assert 'syndicator_feed_renders_total{format="atom"} 1.0' in body
    assert "syndicator_feed_cache_hits_total 1.0" in body
    assert "syndicator_feed_cache_misses_total 1.0" in body


def test_one_log_line_per_request_without_the_authorization_header(client, caplog):
    with caplog.at_level(logging.INFO, logger="syndicator.access"):
        client.get("/healthz", headers={"Authorization": "Bearer secret-token-value"})
    lines = [record.getMessage() for record in caplog.records if record.name == "syndicator.access"]
    assert len(lines) == 1
    assert '"GET /healthz" 200' in lines[0]
    assert "secret-token-value" not in caplog.text
