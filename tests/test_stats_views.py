"""Where a publisher sees the audience: the API, the SVG chart, the CLI, Prometheus."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from api_support import ADMIN, AUTH
from click.testing import CliRunner
from factories import FakeClock, import_folder
from stats_support import SHIPPED_BLOG, SHIPPED_FEED, audience_days
from webhook_support import Receiver, Reply
from websub_support import answering

from syndicator import paging, worker
from syndicator.cli import cli
from syndicator.models import EndpointStatus
from syndicator.stats import audience
from syndicator.web import create_app
from syndicator.webhooks import endpoints

pytestmark = pytest.mark.config(admin=ADMIN)
SVG = "{http://www.w3.org/2000/svg}"
DAYS = 12


@pytest.fixture
def clock() -> FakeClock:
    """Today, as the CLI's own clock sees it (the CLI counts its days back from today)."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def app(core, clock):
    assert import_folder(core, SHIPPED_BLOG).errors == []
    built = create_app(core=core)
    audience_days(built, clock, SHIPPED_FEED, days=DAYS)
    return built


def stats(app, query: str = "") -> dict:
    response = app.test_client().get(f"/api/feeds/{SHIPPED_FEED}/stats{query}", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_api_gives_each_day_and_each_source(app, clock):
    body = stats(app, f"?days={DAYS + 2}")

    days = body["days"]
    assert [day["day"] for day in days][-1] == clock().date().isoformat()
    assert len(days) == DAYS + 2
    assert days[0]["audience"] == days[1]["audience"] == 0  # before the first visit
    last = days[-1]
    # Day 11 of audience_days: Feedly 62, NewsBlur 4, Inoreader 12; two subscribers; a webhook.
    assert last["by_aggregator"] == {"Feedly": 62, "Inoreader": 12, "NewsBlur": 4}
    assert (last["aggregators"], last["email"], last["webhooks"], last["websub"]) == (78, 2, 1, 0)
    assert 17 <= last["pollers"] <= 20
    assert last["audience"] == sum(last[source] for source in body["sources"])
    assert last["requests"] == 5 + 2 * last["pollers"]
    assert last["not_modified"] == last["pollers"]
    assert days[2]["email"] == 0 and days[2 + 2]["email"] == 1  # the first one came on day 2


def test_the_default_is_thirty_days_and_other_lengths_are_refused(app):
    assert len(stats(app)["days"]) == 30
    client = app.test_client()
    for bad in ("0", "401", "many", "-1"):
        answer = client.get(f"/api/feeds/{SHIPPED_FEED}/stats?days={bad}", headers=AUTH)
        assert answer.status_code == 422 and "days" in answer.get_json()["error"]["fields"]
    assert client.get("/api/feeds/nope/stats", headers=AUTH).status_code == 404
    assert client.get(f"/api/feeds/{SHIPPED_FEED}/stats").status_code == 401


def test_the_chart_is_an_accessible_svg_with_axes_labels_and_a_line_per_source(app):
    response = app.test_client().get(
        f"/api/feeds/{SHIPPED_FEED}/stats.svg?days={DAYS}", headers=AUTH
    )

    assert response.content_type == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text.startswith(f"Audience of {SHIPPED_FEED}")
    description = root.find(f"{SVG}desc").text
    assert f"the audience was {stats(app)['days'][-1]['audience']}" in description
    texts = {element.text for element in root.iter(f"{SVG}text")}
    assert {
        "day",
        "people",
        "email subscribers",
        "direct pollers",
        "aggregator subscribers",
    } <= texts
    first_day = stats(app, f"?days={DAYS}")["days"][0]["day"]
    assert first_day in texts  # the x axis is labelled with dates
    lines = {line.get("class") for line in root.iter(f"{SVG}polyline")}
    assert lines == {"audience", *audience.SOURCES}
    for line in root.iter(f"{SVG}polyline"):
        assert len(line.get("points").split()) == DAYS


def test_the_chart_keeps_a_feed_title_with_markup_as_text(core, clock):
    from syndicator.stats import chart

    day = audience.Day(clock().date(), pollers=3)
    root = ET.fromstring(chart.svg('<script>alert("x")</script>', [day]))
    assert root.find(f"{SVG}script") is None
    assert "<script>" in root.find(f"{SVG}title").text


def test_the_cli_prints_a_sparkline_and_a_table_per_day(app, database_url, tmp_path):
    config = tmp_path / "cli.toml"
    config.write_text(f"[storage]\ndatabase_url = {json.dumps(database_url)}\n", encoding="utf-8")

    one = CliRunner().invoke(cli, ["--config", str(config), "stats", SHIPPED_FEED, "--days", "5"])
    every = CliRunner().invoke(cli, ["--config", str(config), "stats", "--days", str(DAYS)])

    assert one.exit_code == 0, one.output
    heading, spark, _blank, columns, *table = one.output.splitlines()
    assert heading.startswith(f"{SHIPPED_FEED}: audience per day")
    assert len(spark.split()[0]) == 5 and set(spark.split()[0]) <= set("▁▂▃▄▅▆▇█")
    assert columns.split()[:7] == [
        "day",
        "audience",
        "aggregators",
        "pollers",
        "email",
        "webhooks",
        "websub",
    ]
    newest = stats(app)["days"][-1]
    assert table[0].split()[:7] == [
        newest["day"],
        *(str(newest[name]) for name in ("audience", *audience.SOURCES)),
    ]
    assert len(table) == 5
    assert every.exit_code == 0, every.output
    assert every.output.splitlines()[1].split()[0] == SHIPPED_FEED
    assert len(every.output.splitlines()[1].split()[-1]) == DAYS


def test_an_unknown_feed_is_one_line_on_the_cli(core, database_url, tmp_path):
    config = tmp_path / "cli.toml"
    config.write_text(f"[storage]\ndatabase_url = {json.dumps(database_url)}\n", encoding="utf-8")
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "stats", "nope"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("syndicator: no feed named 'nope'")


def test_prometheus_shows_todays_audience_by_source(app):
    text = app.test_client().get("/metrics").get_data(as_text=True)
    today = stats(app)["days"][-1]
    for source in audience.SOURCES:
        sample = f'syndicator_feed_audience{{feed="{SHIPPED_FEED}",source="{source}"}}'
        assert f"{sample} {today[source]:.1f}" in text


def test_disabled_webhooks_and_unconfirmed_subscribers_are_not_audience(app, core, make_subscriber):
    make_subscriber("new@example.org", feed=SHIPPED_FEED, confirmed=False)
    before = stats(app)["days"][-1]
    with core.transaction() as session:
        (endpoint,) = endpoints.page(session, paging.Window(10, None))[0]
        endpoint.status = EndpointStatus.DISABLED
    after = stats(app)["days"][-1]
    assert (before["email"], before["webhooks"]) == (2, 1)
    assert (after["email"], after["webhooks"]) == (2, 0)


def websub_audience(app) -> tuple[int, str]:
    """Today's WebSub figure from the API, and the Prometheus gauge's sample of it."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    (sample,) = [
        line
        for line in text.splitlines()
        if line.startswith(f'syndicator_feed_audience{{feed="{SHIPPED_FEED}",source="websub"}}')
    ]
    return stats(app)["days"][-1]["websub"], sample.rsplit(" ", 1)[1]


@pytest.mark.config(admin=ADMIN, webhooks={"allow_private_targets": True})
def test_live_websub_subscriptions_are_audience_until_their_leases_run_out(app, core, clock):
    urls, client = core.urls, app.test_client()
    topics = (urls.feed(SHIPPED_FEED, "atom", None), urls.feed(SHIPPED_FEED, "rss", "interviews"))

    def subscribe(callback: str, topic: str) -> None:
        form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
        answer = client.post("/websub", data={**form, "hub.lease_seconds": "3600"})
        assert answer.status_code == 202, answer.get_data(as_text=True)

    with Receiver(answering(**{"/refuses": lambda request: Reply(404)})) as receiver:
        subscribe(receiver.url("/atom"), topics[0])
        subscribe(receiver.url("/tag"), topics[1])
        subscribe(receiver.url("/refuses"), topics[0])  # never confirmed: unverified
        worker.deliver_websub(core)
        subscribe(receiver.url("/later"), topics[1])  # not yet verified: pending
    assert websub_audience(app) == (2, "2.0")
    clock.advance(seconds=3601)  # both leases ran out
    assert websub_audience(app) == (0, "0.0")


def test_the_cli_shows_an_earlier_period_with_until(app, database_url, tmp_path):
    config = tmp_path / "cli.toml"
    config.write_text(f"[storage]\ndatabase_url = {json.dumps(database_url)}\n", encoding="utf-8")
    days = stats(app, f"?days={DAYS}")["days"]
    middle = days[DAYS // 2]

    arguments = ["stats", SHIPPED_FEED, "--days", "3", "--until", middle["day"]]
    result = CliRunner().invoke(cli, ["--config", str(config), *arguments])

    assert result.exit_code == 0, result.output
    table = result.output.splitlines()[4:]
    assert [row.split()[0] for row in table] == [
        day["day"] for day in days[DAYS // 2 - 2 : DAYS // 2 + 1]
    ][::-1]
    assert table[0].split()[1] == str(middle["audience"])
