"""WebSub conformance: websub.rocks' hub checks (100-106, adapted) and what a subscriber
relies on besides, against a real `syndicator serve` and a subscriber on 127.0.0.1.

The server's worker polls five times a second, so each wait below is for the
asynchronous verification or notification, never a fixed sleep.
"""

from __future__ import annotations

import time
from pathlib import Path

import feedparser
import requests
from webhook_support import Receiver, Reply
from websub_support import (
    Hub,
    answering,
    echo,
    hub,
    notifications,
    signed,
    verifications,
    wait_for,
)

from syndicator.models import WebSubStatus


def start(tmp_path: Path, database_url: str, blog, **websub: int):  # type: ignore[no-untyped-def]
    blog.post("first-post", title="First post", tags=["python"])
    return hub(tmp_path, database_url, blog.root, **websub)


def quiet_for(receiver: Receiver, path: str, count: int, seconds: float = 1.5) -> None:
    """No more than `count` notifications arrive on `path` while the worker ticks ~7 times."""
    time.sleep(seconds)
    assert len(notifications(receiver, path)) == count


def test_100_subscribe_is_verified_and_a_new_post_is_delivered(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/cb100?reader=ann")
        the_hub.subscribe(callback)
        asked = wait_for(lambda: verifications(receiver, "/cb100"))[0]
        assert asked["reader"] == "ann"  # the callback's own query is kept
        assert asked["hub.mode"] == "subscribe"
        assert asked["hub.topic"] == the_hub.topic()
        assert int(asked["hub.lease_seconds"]) == 864000
        assert len(asked["hub.challenge"]) >= 32
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        assert notifications(receiver, "/cb100") == []  # subscribing is not a change

        the_hub.publish("Pushed post")
        (pushed,) = wait_for(lambda: notifications(receiver, "/cb100"))
        now = requests.get(the_hub.topic(), timeout=10)
        assert pushed.body == now.content  # what a GET returns at that moment
        assert pushed.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert f'<{the_hub.base}/websub>; rel="hub"' in pushed.headers["link"]
        assert f'<{the_hub.topic()}>; rel="self"' in pushed.headers["link"]
        assert "x-hub-signature" not in pushed.headers  # no secret, no signature
        titles = [entry.title for entry in feedparser.parse(pushed.body).entries]
        assert titles == ["Pushed post", "First post"]


def test_101_a_secret_signs_every_notification(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/cb101")
        the_hub.subscribe(callback, hub_secret="a shared secret")
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        the_hub.publish("Signed post")
        (pushed,) = wait_for(lambda: notifications(receiver, "/cb101"))
        assert pushed.headers["x-hub-signature"] == signed("a shared secret", pushed.body)


def test_102_unknown_and_legacy_parameters_are_ignored(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/cb102")
        the_hub.subscribe(callback, hub_verify="sync", hub_verify_token="t", hub_foo="bar")
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        the_hub.publish("Post for 102")
        wait_for(lambda: notifications(receiver, "/cb102"))


def test_103_a_resubscription_gets_exactly_one_notification_per_change(
    tmp_path, database_url, blog
):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/cb103")
        the_hub.subscribe(callback, hub_lease_seconds="7200")
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        the_hub.subscribe(callback, hub_lease_seconds="9000", hub_secret="new")
        wait_for(lambda: len(verifications(receiver, "/cb103")) == 2)
        assert verifications(receiver, "/cb103")[1]["hub.lease_seconds"] == "9000"
        wait_for(lambda: the_hub.subscriptions()[0]["signed"])  # the new secret, once verified
        assert len(the_hub.subscriptions()) == 1

        the_hub.publish("Post for 103")
        wait_for(lambda: notifications(receiver, "/cb103"))
        quiet_for(receiver, "/cb103", 1)
        pushed = notifications(receiver, "/cb103")[0]
        assert pushed.headers["x-hub-signature"] == signed("new", pushed.body)


def test_104_after_unsubscribing_nothing_arrives(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/cb104")
        the_hub.subscribe(callback)
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        answer = the_hub.ask(
            hub_mode="unsubscribe", hub_topic=the_hub.topic(), hub_callback=callback
        )
        assert answer.status_code == 202
        the_hub.wait_status(callback, WebSubStatus.UNSUBSCRIBED)
        last = verifications(receiver, "/cb104")[-1]
        assert last["hub.mode"] == "unsubscribe"
        assert "hub.lease_seconds" not in last

        the_hub.publish("Post after unsubscribing")
        quiet_for(receiver, "/cb104", 0)


def test_105_106_rss_json_and_tag_topics_get_their_own_bytes_and_types(
    tmp_path, database_url, blog
):
    topics = {
        "/rss": ("/news/rss.xml", "application/rss+xml; charset=utf-8"),
        "/json": ("/news/feed.json", "application/feed+json; charset=utf-8"),
        "/tag": ("/news/tags/python/atom.xml", "application/atom+xml; charset=utf-8"),
    }
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        for path, (topic, _type) in topics.items():
            the_hub.subscribe(receiver.url(path), topic=the_hub.topic(topic))
        for path in topics:
            the_hub.wait_status(receiver.url(path), WebSubStatus.ACTIVE)

        the_hub.publish("Untagged post")
        for path in ("/rss", "/json"):
            wait_for(lambda path=path: notifications(receiver, path))
        the_hub.publish("Tagged post", tags=["python"])
        wait_for(lambda: len(notifications(receiver, "/rss")) == 2)
        (tagged,) = wait_for(lambda: notifications(receiver, "/tag"))  # the untagged one: none
        for path, (topic, content_type) in topics.items():
            pushed = notifications(receiver, path)[-1]
            assert pushed.headers["content-type"] == content_type
            assert pushed.body == requests.get(the_hub.topic(topic), timeout=10).content
            assert f'<{the_hub.topic(topic)}>; rel="self"' in pushed.headers["link"]
        assert feedparser.parse(tagged.body).entries[0].title == "Tagged post"


def test_a_callback_that_does_not_echo_the_challenge_is_never_subscribed(
    tmp_path, database_url, blog
):
    wrong = answering(
        **{
            "/wrong": lambda _request: Reply(200, body=b"not the challenge"),
            "/refuses": lambda _request: Reply(404, body=b"no"),
        }
    )
    with Receiver(wrong) as receiver, start(tmp_path, database_url, blog) as the_hub:
        for path in ("/wrong", "/refuses"):
            the_hub.subscribe(receiver.url(path))
        for path in ("/wrong", "/refuses"):
            the_hub.wait_status(receiver.url(path), WebSubStatus.UNVERIFIED)
        the_hub.publish("Post nobody verified gets")
        time.sleep(1.5)
        assert [r for r in receiver.received if r.method == "POST"] == []
        assert all(len(verifications(receiver, p)) == 1 for p in ("/wrong", "/refuses"))


def test_an_unverified_resubscription_changes_nothing(tmp_path, database_url, blog):
    agrees = {"now": True}

    def sometimes(request):  # type: ignore[no-untyped-def]
        return echo(request) if agrees["now"] else Reply(404, body=b"I did not ask")

    with (
        Receiver(answering(**{"/cb": sometimes})) as receiver,
        start(tmp_path, database_url, blog) as the_hub,
    ):
        callback = receiver.url("/cb")
        the_hub.subscribe(callback, hub_secret="mine")
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        (before,) = the_hub.subscriptions()
        agrees["now"] = False
        the_hub.subscribe(callback, hub_secret="an attacker's", hub_lease_seconds="1")
        wait_for(lambda: the_hub.subscriptions()[0]["last_attempt"][0]["status_code"] == 404)
        (after,) = the_hub.subscriptions()
        assert after["status"] == "active"
        assert after["lease_expires_at"] == before["lease_expires_at"]
        the_hub.publish("Still signed with mine")
        (pushed,) = wait_for(lambda: notifications(receiver, "/cb"))
        assert pushed.headers["x-hub-signature"] == signed("mine", pushed.body)


def test_a_lease_ends_and_then_nothing_arrives(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        callback = receiver.url("/short")
        the_hub.subscribe(callback, hub_lease_seconds="2")
        asked = wait_for(lambda: verifications(receiver, "/short"))[0]
        assert asked["hub.lease_seconds"] == "2"
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        the_hub.wait_status(callback, WebSubStatus.EXPIRED, seconds=5)
        the_hub.publish("Too late for this lease")
        quiet_for(receiver, "/short", 0)


def test_a_failing_callback_is_retried_and_stays_subscribed(tmp_path, database_url, blog):
    tries = {"count": 0}

    def flaky(request):  # type: ignore[no-untyped-def]
        if request.method == "GET":
            return echo(request)
        tries["count"] += 1
        return Reply(503, body=b"busy") if tries["count"] <= 2 else Reply(200)

    def broken(request):  # type: ignore[no-untyped-def]
        return echo(request) if request.method == "GET" else Reply(500, body=b"down")

    with (
        Receiver(answering(**{"/flaky": flaky, "/broken": broken})) as receiver,
        start(tmp_path, database_url, blog) as the_hub,
    ):
        for path in ("/flaky", "/broken"):
            the_hub.subscribe(receiver.url(path))
            the_hub.wait_status(receiver.url(path), WebSubStatus.ACTIVE)
        the_hub.publish("Post worth retrying")
        wait_for(lambda: len(notifications(receiver, "/flaky")) == 3)
        bodies = {request.body for request in notifications(receiver, "/flaky")}
        assert len(bodies) == 1  # every retry sends the same bytes
        wait_for(lambda: len(notifications(receiver, "/broken")) == 4)  # the whole schedule
        quiet_for(receiver, "/broken", 4)
        assert the_hub.status(receiver.url("/broken")) == "active"  # until its lease ends


def test_410_ends_the_subscription(tmp_path, database_url, blog):
    def gone(request):  # type: ignore[no-untyped-def]
        return echo(request) if request.method == "GET" else Reply(410, body=b"gone")

    with (
        Receiver(answering(**{"/gone": gone})) as receiver,
        start(tmp_path, database_url, blog) as the_hub,
    ):
        callback = receiver.url("/gone")
        the_hub.subscribe(callback)
        the_hub.wait_status(callback, WebSubStatus.ACTIVE)
        the_hub.publish("First push")
        the_hub.wait_status(callback, WebSubStatus.GONE)
        the_hub.publish("Second push")
        quiet_for(receiver, "/gone", 1)


def test_an_unknown_topic_is_refused_and_never_verified(tmp_path, database_url, blog):
    with Receiver(echo) as receiver, start(tmp_path, database_url, blog) as the_hub:
        for topic in (
            "https://elsewhere.example/news/atom.xml",
            the_hub.topic("/nosuchfeed/atom.xml"),
            the_hub.topic("/news/tags/nosuchtag/rss.xml"),
            the_hub.topic("/news/page/2/atom.xml"),
            the_hub.topic("/news/"),
        ):
            answer = the_hub.ask(
                hub_mode="subscribe", hub_topic=topic, hub_callback=receiver.url("/x")
            )
            assert 400 <= answer.status_code < 500, (topic, answer.status_code)
            assert answer.headers["content-type"].startswith("text/plain")
            assert "hub.topic" in answer.text
        time.sleep(1)
        assert receiver.received == []
        assert the_hub.subscriptions() == []


def test_every_topic_answers_with_discovery_links_on_get_and_head(tmp_path, database_url, blog):
    with start(tmp_path, database_url, blog) as the_hub:
        for path in (
            "/news/atom.xml",
            "/news/rss.xml",
            "/news/feed.json",
            "/news/tags/python/atom.xml",
            "/news/tags/python/rss.xml",
            "/news/tags/python/feed.json",
        ):
            for method in ("GET", "HEAD", "GET"):  # a cold answer, then warm ones
                answer = requests.request(method, the_hub.topic(path), timeout=10)
                assert answer.links["hub"]["url"] == f"{the_hub.base}/websub", path
                assert answer.links["self"]["url"] == the_hub.topic(path), path
        atom = feedparser.parse(requests.get(the_hub.topic(), timeout=10).content)
        assert {"rel": "hub", "href": f"{the_hub.base}/websub"} in [
            {"rel": link.rel, "href": link.href} for link in atom.feed.links
        ]
        rss = requests.get(the_hub.topic("/news/rss.xml"), timeout=10).text
        assert f'<atom:link href="{the_hub.base}/websub" rel="hub"/>' in rss
        json_feed = requests.get(the_hub.topic("/news/feed.json"), timeout=10).json()
        assert json_feed["hubs"] == [{"type": "WebSub", "url": f"{the_hub.base}/websub"}]


def hub_fixture_is_used(the_hub: Hub) -> None:  # keeps the type import honest for mypy
    assert the_hub.base
