"""The hub's answers to malformed requests, and the SSRF guard on callbacks (no DNS: the
core's resolver is the test's)."""

from __future__ import annotations

import pytest
from webhook_support import Receiver
from websub_support import echo, query_of

from syndicator import worker
from syndicator.delivery import queue
from syndicator.models import Channel, WebSubSubscription
from syndicator.web import create_app

TOPIC = "http://127.0.0.1:8000/news/atom.xml"
CALLBACK = "https://reader.example/push"
pytestmark = pytest.mark.config(
    websub={"lease_seconds": 86400, "min_lease_seconds": 3600, "max_lease_seconds": 604800}
)


def ask(client, **fields: str):  # type: ignore[no-untyped-def]
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": CALLBACK}
    form.update({name.replace("hub_", "hub.", 1): value for name, value in fields.items()})
    return client.post("/websub", data={k: v for k, v in form.items() if v is not None})


def stored(core) -> list[WebSubSubscription]:  # type: ignore[no-untyped-def]
    with core.reading() as session:
        return list(session.query(WebSubSubscription))


@pytest.fixture
def news(core, make_feed, make_post):  # type: ignore[no-untyped-def]
    core.resolver.names["reader.example"] = "93.184.216.34"
    make_feed("news")
    make_post("A post", tags=("python",))
    return core


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"hub_mode": None}, 400, "hub.mode is missing"),
        ({"hub_mode": "publish"}, 400, "hub.mode must be subscribe or unsubscribe"),
        ({"hub_topic": None}, 400, "hub.topic is missing"),
        ({"hub_callback": None}, 400, "hub.callback is missing"),
        ({"hub_callback": "ftp://reader.example/x"}, 400, "must be an http:// or https:// URL"),
        ({"hub_callback": "/relative"}, 400, "must be an http:// or https:// URL"),
        ({"hub_callback": "http:///no-host"}, 400, "hub.callback refused: the URL has no host"),
        ({"hub_callback": "https://u:p@reader.example/"}, 400, "credentials"),
        ({"hub_secret": "s" * 200}, 400, "less than 200 bytes"),
        ({"hub_secret": "é" * 100}, 400, "less than 200 bytes"),
        ({"hub_secret": "a\x00b"}, 400, "must not contain NUL"),
        ({"hub_lease_seconds": "ten"}, 400, "hub.lease_seconds must be a whole number"),
        ({"hub_lease_seconds": "-5"}, 400, "hub.lease_seconds must be a whole number"),
        ({"hub_lease_seconds": "1e3"}, 400, "hub.lease_seconds must be a whole number"),
        ({"hub_topic": "http://127.0.0.1:8000/news/"}, 404, "is not a feed of this hub"),
        ({"hub_topic": "http://127.0.0.1:8000/gone/atom.xml"}, 404, "has no posts to show"),
        ({"hub_topic": "https://other.example/news/atom.xml"}, 404, "is not a feed of this hub"),
        ({"hub_topic": TOPIC + "?x=1"}, 404, "is not a feed of this hub"),
        ({"hub_callback": "https://reader.example/" + "x" * 2000}, 400, "longer than"),
    ],
)
def test_a_malformed_request_gets_a_plain_4xx_and_changes_nothing(
    client, news, fields, status, reason
):
    answer = ask(client, **fields)
    assert answer.status_code == status
    assert answer.content_type == "text/plain; charset=utf-8"
    assert reason in answer.get_data(as_text=True)
    assert stored(news) == []


def test_a_request_that_is_not_a_form_is_refused(client, news):
    answer = client.post("/websub", json={"hub.mode": "subscribe"})
    assert answer.status_code == 415
    assert "x-www-form-urlencoded" in answer.get_data(as_text=True)


def test_a_secret_of_199_bytes_is_taken(client, news):
    assert ask(client, hub_secret="s" * 199).status_code == 202
    assert [row.status for row in stored(news)] == ["pending"]


@pytest.mark.parametrize(
    ("asked", "granted"), [(None, "86400"), ("1", "3600"), ("99999999999", "604800")]
)
def test_leases_are_clamped_to_the_configured_bounds(
    make_core, make_feed, make_post, asked, granted
):
    core = make_core(webhooks={"allow_private_targets": True})
    make_feed("news", core=core)
    make_post("A post", core=core)
    with Receiver(echo) as receiver:
        answer = ask(
            create_app(core=core).test_client(),
            hub_callback=receiver.url("/cb"),
            hub_lease_seconds=asked,
        )
        assert answer.status_code == 202
        worker.deliver_websub(core)
        (verification,) = receiver.received
    assert query_of(verification)["hub.lease_seconds"] == granted


def test_a_callback_on_a_private_address_is_refused_at_the_request(client, news):
    news.resolver.names["intranet.example"] = "10.0.0.5"
    for callback in ("http://intranet.example/push", "http://127.0.0.1:9/push", "http://[::1]/x"):
        answer = ask(client, hub_callback=callback)
        assert answer.status_code == 400
        assert "only go to public addresses" in answer.get_data(as_text=True)
    assert stored(news) == []


def test_a_callback_that_moves_to_a_private_address_is_refused_at_contact(client, news):
    assert ask(client).status_code == 202
    news.resolver.names["reader.example"] = "127.0.0.1"  # DNS rebinding after the request
    worker.deliver_websub(news)
    with news.reading() as session:
        last = queue.last_attempts(session, Channel.WEBSUB, [stored(news)[0].id])
    (attempt,) = last.values()
    assert attempt.status_code is None
    assert "refused" in attempt.error and "127.0.0.1" in attempt.error
    assert stored(news)[0].status == "pending"
