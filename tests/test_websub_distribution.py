"""Content distribution inside one process: which changes notify whom, with which bytes;
the admin API, the CLI and the metrics over the same subscriptions. The clock is the
test's; callbacks are real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from api_support import ADMIN, api  # noqa: F401  (the fixture)
from click.testing import CliRunner
from factories import add_feed, add_post
from webhook_support import Receiver, Reply
from websub_support import answering, echo, notifications, verifications

from syndicator import worker
from syndicator.cli import cli
from syndicator.web import create_app
from syndicator.web.export import export

pytestmark = pytest.mark.config(
    admin=ADMIN, webhooks={"allow_private_targets": True, "retry_schedule": [0, 10, 10]}
)
TOPIC = "http://127.0.0.1:8000/news/atom.xml"


def subscribe(api, callback: str, topic: str = TOPIC, **extra: str) -> None:  # noqa: F811
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    assert api.client.post("/websub", data=form).status_code == 202


def renders(core) -> float:  # type: ignore[no-untyped-def]
    return float(core.metrics.feed_renders.labels("atom")._value.get())


def test_a_change_is_rendered_once_and_sent_once_to_each_subscription(api, core):  # noqa: F811
    api.create(title="First")
    with Receiver(echo) as receiver:
        for number in range(5):
            subscribe(api, receiver.url(f"/cb/{number}"))
        subscribe(api, receiver.url("/cb/0"))  # twice: still one subscription
        worker.deliver_websub(core)
        assert len([r for r in receiver.received if r.method == "GET"]) == 6
        before = renders(core)
        api.create(title="Second")
        worker.deliver_websub(core)
        worker.deliver_websub(core)  # nothing changed since: nothing more
        assert renders(core) == before + 1
        posts = [r for r in receiver.received if r.method == "POST"]
        assert sorted(r.path for r in posts) == [f"/cb/{n}" for n in range(5)]
        assert len({r.body for r in posts}) == 1
        assert api.client.get("/news/atom.xml").data == posts[0].body


def test_edits_deletions_and_scheduled_posts_notify_their_topics(api, core, clock):  # noqa: F811
    api.create(title="Also tagged", tags=["python"])
    post = api.create(title="Tagged", tags=["python"])
    with Receiver(echo) as receiver:
        subscribe(api, receiver.url("/feed"))
        tag_topic = "http://127.0.0.1:8000/news/tags/python/rss.xml"
        subscribe(api, receiver.url("/tag"), topic=tag_topic)
        worker.deliver_websub(core)
        api.patch(f"/api/posts/{post['id']}", json={"title": "Tagged, edited"})
        worker.deliver_websub(core)
        assert b"Tagged, edited" in notifications(receiver, "/tag")[-1].body
        api.create(title="Later", published=(clock.moment + timedelta(hours=1)).isoformat())
        worker.deliver_websub(core)  # a scheduled post is not a change yet
        count = len(notifications(receiver, "/feed"))
        clock.advance(hours=2)  # "Later" comes due: the feed changes, the tag does not
        worker.deliver_websub(core)
        assert len(notifications(receiver, "/feed")) == count + 1
        assert b"Later" in notifications(receiver, "/feed")[-1].body
        tag_count = len(notifications(receiver, "/tag"))
        assert api.delete(f"/api/posts/{post['id']}").status_code == 204
        worker.deliver_websub(core)
        assert len(notifications(receiver, "/tag")) == tag_count + 1
        assert b"<title>Tagged" not in notifications(receiver, "/tag")[-1].body
        assert b"<title>Tagged" not in notifications(receiver, "/feed")[-1].body


def test_a_retry_never_sends_older_bytes_after_newer_ones(api, core, clock):  # noqa: F811
    api.create(title="First")
    down = {"now": False}

    def sometimes(request):  # type: ignore[no-untyped-def]
        if request.method == "POST" and down["now"]:
            return Reply(503, body=b"busy")
        return echo(request)

    with Receiver(answering(**{"/cb": sometimes})) as receiver:
        subscribe(api, receiver.url("/cb"))
        worker.deliver_websub(core)
        down["now"] = True
        api.create(title="Second")
        worker.deliver_websub(core)  # fails, retried in ~10 s
        down["now"] = False
        api.create(title="Third")
        worker.deliver_websub(core)  # the newest goes now
        clock.advance(seconds=15)
        worker.deliver_websub(core)  # the old retry is due: skipped
        delivered = [r.body for r in notifications(receiver, "/cb")]
    assert len(delivered) == 2
    assert b"Third" in delivered[-1]


def test_the_admin_sees_removes_and_replays_subscriptions(api, core, clock):  # noqa: F811
    api.create(title="First")
    fail = {"now": True}

    def flaky(request):  # type: ignore[no-untyped-def]
        if request.method == "POST" and fail["now"]:
            return Reply(500, body=b"oops")
        return echo(request)

    with Receiver(answering(**{"/cb": flaky})) as receiver:
        subscribe(api, receiver.url("/cb"), **{"hub.secret": "s"})
        worker.deliver_websub(core)
        api.create(title="Second")
        worker.deliver_websub(core)
        (item,) = api.get("/api/websub/subscriptions").get_json()["items"]
        assert item["topic"] == TOPIC
        assert item["callback"] == receiver.url("/cb")
        assert item["status"] == "active"
        assert item["signed"] is True
        assert item["lease_expires_at"].endswith("Z")
        assert item["last_attempt"][0]["status_code"] == 500
        assert "secret" not in json.dumps(item)
        log = api.get(f"/api/websub/subscriptions/{item['id']}/deliveries").get_json()["items"]
        assert [(m["kind"], m["status"]) for m in log] == [
            ("notification", "pending"),
            ("verification", "succeeded"),
        ]
        fail["now"] = False
        replayed = api.post(f"/api/deliveries/{log[0]['id']}/retry").get_json()
        assert replayed["status"] == "succeeded"
        assert [a["status_code"] for a in replayed["attempts"]] == [204, 500]
        assert len(notifications(receiver, "/cb")) == 2

        metrics = api.client.get("/metrics").get_data(as_text=True)
        assert 'syndicator_websub_subscriptions{status="active"} 1.0' in metrics
        assert 'syndicator_websub_verifications_total{outcome="succeeded"} 1.0' in metrics
        assert 'syndicator_websub_notifications_total{outcome="retry"} 1.0' in metrics

        assert api.delete(f"/api/websub/subscriptions/{item['id']}").status_code == 204
        assert api.get(f"/api/websub/subscriptions/{item['id']}").status_code == 404
        assert api.get("/api/websub/subscriptions").get_json()["items"] == []
        api.create(title="Third")
        worker.deliver_websub(core)
        assert len(notifications(receiver, "/cb")) == 2
        assert len(verifications(receiver, "/cb")) == 1


def test_the_cli_lists_and_removes_subscriptions(api, core, tmp_path: Path, database_url):  # noqa: F811
    api.create(title="First")
    with Receiver(echo) as receiver:
        subscribe(api, receiver.url("/one"))
        subscribe(api, receiver.url("/two"))
        worker.deliver_websub(core)
    config = tmp_path / "cli.toml"
    config.write_text(f"[storage]\ndatabase_url = {json.dumps(database_url)}\n")

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["--config", str(config), "websub", *args])

    listed = run("list")
    assert listed.exit_code == 0, listed.output
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [(line[1], line[3], line[4]) for line in lines] == [
        ("active", TOPIC, receiver.url("/one")),
        ("active", TOPIC, receiver.url("/two")),
    ]
    removed = run("remove", lines[0][0])
    assert removed.exit_code == 0 and "removed" in removed.output
    assert [line.split("\t")[4] for line in run("list").output.splitlines()] == [
        receiver.url("/two")
    ]
    missing = run("remove", "999")
    assert missing.exit_code != 0
    assert str(missing.exception) == "no WebSub subscription 999"  # main() prints it


def test_also_ping_tells_external_hubs_of_each_change_and_retries(make_core, clock):
    fails = {"left": 3}

    def hub(request):  # type: ignore[no-untyped-def]
        if fails["left"]:
            fails["left"] -= 1
            return Reply(503, body=b"busy")
        return Reply(204, body=b"")

    with Receiver(hub) as receiver:
        external = receiver.url("/hub")
        core = make_core(websub={"also_ping": [external]})
        client = create_app(core=core).test_client()
        add_feed(core, "news")
        add_post(core, "First", feed="news")
        worker.deliver_websub(core)  # each feed's topics noted: nothing changed yet
        assert receiver.received == []
        answer = client.get("/news/feed.json")
        assert answer.get_json()["hubs"] == [
            {"type": "WebSub", "url": "http://127.0.0.1:8000/websub"},
            {"type": "WebSub", "url": external},
        ]
        assert f'<{external}>; rel="hub"' in answer.headers["Link"]

        add_post(core, "Second", feed="news")
        worker.deliver_websub(core)  # three pings, all refused with 503
        clock.advance(seconds=15)
        worker.deliver_websub(core)  # retried
        pings = [parse_qs(r.body.decode()) for r in receiver.received]
        assert len(pings) == 6
        assert all(
            r.headers["content-type"] == "application/x-www-form-urlencoded"
            for r in receiver.received
        )
        topics = sorted(ping["hub.url"][0] for ping in pings[3:])
        assert topics == [
            "http://127.0.0.1:8000/news/atom.xml",
            "http://127.0.0.1:8000/news/feed.json",
            "http://127.0.0.1:8000/news/rss.xml",
        ]
        assert {ping["hub.mode"][0] for ping in pings} == {"publish"}


def test_a_verification_is_not_replayed_and_a_vanished_tag_can_be_left(api, core):  # noqa: F811
    post = api.create(title="Only one", tags=["rare"])
    tag_topic = "http://127.0.0.1:8000/news/tags/rare/atom.xml"
    with Receiver(echo) as receiver:
        subscribe(api, receiver.url("/cb"), topic=tag_topic)
        worker.deliver_websub(core)
        (item,) = api.get("/api/websub/subscriptions").get_json()["items"]
        (verification,) = api.get(f"/api/websub/subscriptions/{item['id']}/deliveries").get_json()[
            "items"
        ]
        answer = api.post(f"/api/deliveries/{verification['id']}/retry")
        assert answer.status_code == 409
        assert "subscribes again" in answer.get_json()["error"]["message"]
        api.delete(f"/api/posts/{post['id']}")  # the tag's last post: its feed is gone
        callback = receiver.url("/cb")
        form = {"hub.mode": "unsubscribe", "hub.topic": tag_topic, "hub.callback": callback}
        assert api.client.post("/websub", data=form).status_code == 202
        worker.deliver_websub(core)
        assert verifications(receiver, "/cb")[-1]["hub.mode"] == "unsubscribe"
    assert api.get(f"/api/websub/subscriptions/{item['id']}").get_json()["status"] == "unsubscribed"


def test_the_static_export_keeps_the_hub_links(api, core, app, tmp_path: Path):  # noqa: F811
    api.create(title="Exported", tags=["python"])
    target = tmp_path / "site"
    export(app, core, target)
    hub = "http://127.0.0.1:8000/websub"
    assert f'<link href="{hub}" rel="hub"/>' in (target / "news/atom.xml").read_text()
    tag_rss = (target / "news/tags/python/rss.xml").read_text()
    assert f'<atom:link href="{hub}" rel="hub"/>' in tag_rss
    hubs = json.loads((target / "news/feed.json").read_text())["hubs"]
    assert hubs == [{"type": "WebSub", "url": hub}]
