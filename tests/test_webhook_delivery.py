"""Webhook deliveries end to end: posts change, the worker sends, real receivers record."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from factories import FakeClock, add_endpoint, add_feed
from factories import add_post as publish
from sqlalchemy import select
from webhook_support import (
    FAST,
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
from syndicator.models import Post, PostStatus, WebhookEvent
from syndicator.posts import importer, store


@pytest.fixture
def clock() -> FakeClock:
    """Receivers verify webhook timestamps against real time: the injected clock starts now."""
    return FakeClock(real_now())


@pytest.fixture
def hook_clock(clock: FakeClock) -> FakeClock:
    return clock


@pytest.fixture
def make_core(make_core: Callable[..., core_module.Core]) -> Callable[..., core_module.Core]:
    """conftest's make_core with fast webhook settings; keyword arguments override them."""
    return lambda **settings: make_core(webhooks={**FAST, **settings})


@pytest.fixture
def core(make_core: Callable[..., core_module.Core]) -> core_module.Core:
    made = make_core()
    add_feed(made)
    return made


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def verify(secret: str, request: Any) -> dict[str, Any]:
    return standardwebhooks.Webhook(secret).verify(request.body, request.headers)


def test_a_published_post_arrives_signed_with_the_contract_payload(core, receiver) -> None:
    hook = add_endpoint(core, receiver.url())
    post_id = publish(core, "Hello World", tags=("News", "Rust"), author="Ann")
    assert deliver(core) == 1
    (request,) = receiver.received
    payload = verify(hook.secret, request)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("syndicator/")
    assert request.headers["webhook-id"].startswith("msg_")
    assert payload["type"] == "post.published"
    data = payload["data"]
    assert data["id"] == post_id and data["feed"] == "news"
    assert data["url"] == "http://127.0.0.1:8000/news/hello-world/"
    assert data["guid"].startswith("urn:uuid:")
    assert (data["title"], data["author"], data["tags"]) == ("Hello World", "Ann", ["News", "Rust"])
    assert 'href="http://127.0.0.1:8000/more/"' in data["content_html"]  # absolute links
    assert data["published"].endswith("Z") and payload["timestamp"].endswith("Z")
    assert set(data) == {
        "feed", "id", "guid", "url", "title", "summary", "content_html",
        "author", "tags", "published", "updated",
    }  # fmt: skip


def test_each_kind_of_change_sends_its_event_and_nothing_else(core, receiver, hook_clock) -> None:
    add_endpoint(core, receiver.url())
    draft = publish(core, "Draft", status=PostStatus.DRAFT)
    scheduled = publish(core, "Later", published_at=hook_clock.moment + timedelta(hours=1))
    deliver(core)
    assert receiver.received == []  # drafts and scheduled posts are invisible: no event
    with core.transaction() as session:
        post = session.get(Post, draft)
        same = store.PostData(
            title="Draft", published_at=post.published_at, content_source=post.content_source
        )
        store.update(
            session, post, replace(same, status=PostStatus.PUBLISHED), store.Origin(), core.now()
        )
    with core.transaction() as session:  # saved again unchanged: readers see nothing new
        post = session.get(Post, draft)
        store.update(
            session, post, replace(same, status=PostStatus.PUBLISHED), store.Origin(), core.now()
        )
    with core.transaction() as session:
        post = session.get(Post, draft)
        changed = replace(same, status=PostStatus.PUBLISHED, title="Draft, edited")
        store.update(session, post, changed, store.Origin(), core.now())
    for status in (PostStatus.DRAFT, PostStatus.PUBLISHED):  # unpublished, then back
        with core.transaction() as session:
            again = replace(changed, status=status)
            store.update(session, session.get(Post, draft), again, store.Origin(), core.now())
    with core.transaction() as session:
        store.delete(session, session.get(Post, draft), core.now())
    with core.transaction() as session:  # deleting twice tells nobody twice
        store.delete(session, session.get(Post, draft), core.now())
    hook_clock.advance(hours=2)
    worker.tick(core)  # the scheduled post comes due, then deliveries run
    expected = [
        ("post.published", draft),
        ("post.updated", draft),
        ("post.deleted", draft),  # unpublished: it left every feed
        ("post.published", draft),  # back in the feed
        ("post.deleted", draft),
        ("post.published", scheduled),
    ]
    with core.reading() as session:
        outbox = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        assert [(event.type, event.post_id) for event in outbox] == expected
    delivered = [(body["type"], body["data"]["id"]) for body in bodies(receiver.received)]
    assert sorted(delivered) == sorted(expected)  # sent concurrently: order is not promised
    deleted = next(b for b in bodies(receiver.received) if b["type"] == "post.deleted")
    assert set(deleted["data"]) == {"feed", "id", "guid", "url"}
    updated = next(b for b in bodies(receiver.received) if b["type"] == "post.updated")
    assert updated["data"]["title"] == "Draft, edited"


def test_a_new_file_in_the_content_folder_is_published(core, receiver, blog) -> None:
    add_endpoint(core, receiver.url())
    blog.post("first-post", "Body", date="2024-01-01T09:00:00Z")
    importer.sync(core, blog.root)
    importer.sync(core, blog.root)  # idempotent: no second event
    deliver(core)
    assert [body["type"] for body in bodies(receiver.received)] == ["post.published"]


def test_no_event_without_its_change_and_no_change_without_its_event(core) -> None:
    with pytest.raises(RuntimeError), core.transaction() as session:
        store.create(
            session, "news", store.PostData(title="Doomed", published_at=core.now()),
            store.Origin(), core.now(),
        )  # fmt: skip
        raise RuntimeError("the request failed after the change")
    with core.reading() as session:
        assert list(session.scalars(select(WebhookEvent))) == []
        assert list(session.scalars(select(Post))) == []
    publish(core, "Kept")
    with core.reading() as session:
        assert [event.type for event in session.scalars(select(WebhookEvent))] == ["post.published"]


def test_endpoint_filters_pick_events_and_feeds(core, receiver) -> None:
    add_feed(core, "other")
    add_endpoint(core, receiver.url("/all"))
    add_endpoint(core, receiver.url("/deleted"), events=["post.deleted"])
    add_endpoint(core, receiver.url("/other"), feeds=["other"])
    news_id = publish(core, "In news")
    publish(core, "In other", feed="other")
    with core.transaction() as session:
        store.delete(session, session.get(Post, news_id), core.now())
    deliver(core)
    kinds = {path: sorted((b["type"], b["data"]["feed"]) for b in bodies(receiver.on(path)))
             for path in ("/all", "/deleted", "/other")}  # fmt: skip
    assert kinds["/all"] == [
        ("post.deleted", "news"), ("post.published", "news"), ("post.published", "other")
    ]  # fmt: skip
    assert kinds["/deleted"] == [("post.deleted", "news")]
    assert kinds["/other"] == [("post.published", "other")]


def test_failures_are_retried_on_schedule_with_the_same_id_and_bytes(core, hook_clock) -> None:
    answers = iter([500, 500, 200])
    with Receiver(lambda _r: Reply(status=next(answers), body=b"x" * 5000)) as receiver:
        hook = add_endpoint(core, receiver.url())
        publish(core, "Flaky")
        deliver(core)
        hook_clock.advance(seconds=3.9)  # 5 s -20% is 4 s: not due yet
        deliver(core)
        assert len(receiver.received) == 1
        hook_clock.advance(seconds=2.2)  # 6.1 s: past 5 s +20%
        deliver(core)
        hook_clock.advance(seconds=73)  # 60 s +20% is 72 s
        deliver(core)
        deliver(core)  # succeeded: nothing more to send
    first, second, third = receiver.received
    assert first.body == second.body == third.body
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.headers["webhook-timestamp"] for r in receiver.received}) == 3
    for request in receiver.received[:2]:  # within the package's 5-minute tolerance
        verify(hook.secret, request)
    (message,) = messages(core)
    assert message.status == "succeeded"
    log = attempts(core)
    assert [a.status_code for a in log] == [500, 500, 200]
    assert all(len(a.response_prefix or "") == 1024 for a in log)  # only the first 1 KiB kept


def test_an_exhausted_schedule_marks_the_message_failed(make_core, hook_clock) -> None:
    core = make_core(retry_schedule=[0, 1])
    add_feed(core)
    with Receiver(lambda _r: Reply(status=500)) as receiver:
        add_endpoint(core, receiver.url())
        publish(core, "Doomed")
        deliver(core)
        hook_clock.advance(seconds=2)
        deliver(core)
        hook_clock.advance(hours=1)
        deliver(core)
    assert len(receiver.received) == 2
    assert [m.status for m in messages(core)] == ["failed"]


def test_410_disables_the_endpoint_at_once(core) -> None:
    with Receiver(lambda _r: Reply(status=410)) as receiver:
        hook = add_endpoint(core, receiver.url())
        publish(core, "One")
        publish(core, "Two")
        deliver(core)
    assert len(receiver.received) <= 2  # at most what was in flight together
    gone = endpoint(core, hook.id)
    assert gone.status == "disabled" and "410" in (gone.disabled_reason or "")


def test_429_retry_after_pushes_the_next_attempt_back(core, hook_clock) -> None:
    answers = iter([Reply(status=429, headers={"Retry-After": "40"}), Reply()])
    with Receiver(lambda _r: next(answers)) as receiver:
        add_endpoint(core, receiver.url())
        publish(core, "Busy")
        deliver(core)
        hook_clock.advance(seconds=30)  # the schedule says 5 s; the receiver asked for 40
        deliver(core)
        assert len(receiver.received) == 1
        hook_clock.advance(seconds=11)
        deliver(core)
    assert len(receiver.received) == 2


def test_a_redirect_is_a_failure_and_is_not_followed(core, receiver) -> None:
    with Receiver(lambda _r: Reply(status=302, headers={"Location": receiver.url("/moved")})) as r:
        add_endpoint(core, r.url())
        publish(core, "Moved")
        deliver(core)
    assert receiver.received == []
    (attempt,) = attempts(core)
    assert attempt.status_code == 302 and "redirect not followed" in (attempt.error or "")
    assert messages(core)[0].status == "pending"


def test_connection_refused_is_recorded_and_retried(core) -> None:
    closed = Receiver()
    url = closed.url()
    closed.server.server_close()  # nothing listens on that port now
    add_endpoint(core, url)
    publish(core, "Nobody home")
    deliver(core)
    (attempt,) = attempts(core)
    assert attempt.status_code is None and attempt.error == "connection refused"
    assert messages(core)[0].status == "pending"


@pytest.mark.parametrize(
    "reply", [Reply(delay=3), Reply(body=b"0123456789" * 3, drip=0.2)], ids=["silent", "drip"]
)
def test_an_attempt_never_outlasts_its_deadline(core, reply) -> None:
    with Receiver(lambda _r: reply) as receiver:
        add_endpoint(core, receiver.url())
        publish(core, "Slow")
        started = time.monotonic()
        deliver(core)
        elapsed = time.monotonic() - started
    (attempt,) = attempts(core)
    assert attempt.error == "no complete answer within 1s"
    assert elapsed < 2.5  # 1 s deadline; a drip of 30 bytes would take 6 s


def test_a_slow_endpoint_does_not_delay_a_healthy_one(make_core) -> None:
    core = make_core(concurrency=4, per_endpoint_concurrency=2)
    add_feed(core)
    arrivals: list[float] = []

    def healthy(_request: Any) -> Reply:
        arrivals.append(time.monotonic())
        return Reply()

    with Receiver(lambda _r: Reply(delay=3)) as slow, Receiver(healthy) as fast:
        add_endpoint(core, slow.url())
        add_endpoint(core, fast.url())
        for number in range(6):
            publish(core, f"Post {number}")
        started = time.monotonic()
        deliver(core)
        total = time.monotonic() - started
    assert len(fast.received) == 6
    assert max(arrivals) - started < 0.9  # all before the first slow attempt gave up (1 s)
    assert total >= 3  # the slow endpoint's six attempts went two at a time, 1 s each
    assert len(slow.received) == 6


def test_all_failures_for_days_disable_an_endpoint_and_a_success_resets(
    make_core, hook_clock
) -> None:
    core = make_core(retry_schedule=[0, 150_000, 150_000, 150_000], disable_after_days=5)
    add_feed(core)
    healthy_now = {"ok": False}
    with Receiver(lambda _r: Reply(status=200 if healthy_now["ok"] else 500)) as receiver:
        hook = add_endpoint(core, receiver.url())
        publish(core, "Unlucky")
        deliver(core)
        for _ in range(2):  # about 1.7 days apart; +-20 % jitter
            hook_clock.advance(days=2.1)
            deliver(core)
        assert endpoint(core, hook.id).status == "active"  # 4.2 days of failures
        healthy_now["ok"] = True
        publish(core, "Lucky")
        deliver(core)  # the success resets the clock
        healthy_now["ok"] = False
        publish(core, "Unlucky again")
        deliver(core)
        hook_clock.advance(days=2.1)
        deliver(core)
        assert endpoint(core, hook.id).status == "active"
        hook_clock.advance(days=2.1)
        deliver(core)
        hook_clock.advance(days=2.1)
        deliver(core)
    disabled = endpoint(core, hook.id)
    assert disabled.status == "disabled"
    assert "every delivery failed since" in (disabled.disabled_reason or "")


def test_an_oversized_payload_is_sent_without_its_content(make_core, receiver) -> None:
    core = make_core(max_payload_bytes=2000)
    add_feed(core)
    add_endpoint(core, receiver.url())
    publish(core, "Huge", content_source="word " * 1000)
    publish(core, "Small")
    deliver(core)
    by_title = {b["data"]["title"]: b for b in bodies(receiver.received)}
    sizes = {
        json.loads(request.body)["data"]["title"]: len(request.body)
        for request in receiver.received
    }
    assert sizes["Huge"] <= 2000  # the oversized one fits the limit once trimmed
    assert by_title["Huge"]["data"]["content_html"] is None
    assert by_title["Huge"]["data"]["trimmed"] is True
    assert "trimmed" not in by_title["Small"]["data"]


def test_private_targets_are_refused_at_every_attempt(make_core, receiver) -> None:
    open_core = make_core()  # allow_private_targets = true, as in development
    add_feed(open_core)
    add_endpoint(open_core, receiver.url())  # registered while allowed
    strict = make_core(allow_private_targets=False)
    publish(strict, "Secret")
    deliver(strict)
    assert receiver.received == []  # the canary heard nothing
    (attempt,) = attempts(strict)
    assert attempt.status_code is None
    assert "refused" in (attempt.error or "") and "loopback" in (attempt.error or "")


def readme_function(name: str) -> Callable[..., Any]:
    """A function from a Python example in docs/webhooks.md, so the docs stay true."""
    page = (Path(__file__).parent.parent / "docs" / "webhooks.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    (code,) = [block for block in blocks if f"def {name}(" in block]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace[name]


def test_the_readme_verification_example_accepts_real_deliveries_only(core, receiver) -> None:
    verify_example = readme_function("verify")
    hook = add_endpoint(core, receiver.url())
    publish(core, "Checked")
    deliver(core)
    (request,) = receiver.received
    assert verify_example(hook.secret, request.headers, request.body)
    assert not verify_example(hook.secret, request.headers, request.body + b" ")
    assert not verify_example("whsec_" + "A" * 44, request.headers, request.body)


def edit_content(core: core_module.Core, post_id: int, source: str, **changes: Any) -> None:
    with core.transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        data = store.PostData(title=post.title, published_at=post.published_at)
        edited = replace(data, content_source=source, **changes)
        store.update(session, post, edited, store.Origin(), core.now())


def test_each_event_carries_the_post_of_its_moment_when_edits_come_before_fan_out(
    core, receiver, clock
) -> None:
    add_endpoint(core, receiver.url())
    post_id = publish(core, "Edited", content_source="First text.")
    clock.advance(minutes=1)
    edit_content(core, post_id, "Second text.", tags=("Second",))
    clock.advance(minutes=1)
    edit_content(core, post_id, "Third text.", title="Renamed")
    deliver(core)
    sent = [
        (b["type"], b["data"]["title"], b["data"]["tags"], b["data"]["content_html"])
        for b in bodies(receiver.received)
    ]
    assert sent == [
        ("post.published", "Edited", [], "<p>First text.</p>\n"),
        ("post.updated", "Edited", ["Second"], "<p>Second text.</p>\n"),
        ("post.updated", "Renamed", [], "<p>Third text.</p>\n"),
    ]


def test_an_event_keeps_its_html_when_its_post_row_is_gone_before_fan_out(
    core, receiver, clock
) -> None:
    add_endpoint(core, receiver.url())
    first = publish(core, "Taken", slug="taken", content_source="Old post.")
    with core.transaction() as session:
        post = session.get(Post, first)
        assert post is not None
        store.delete(session, post, core.now())
    publish(core, "Taken again", slug="taken", content_source="New post.")  # reclaims the slug
    deliver(core)
    published = [b["data"] for b in bodies(receiver.received) if b["type"] == "post.published"]
    assert {data["title"]: data["content_html"] for data in published} == {
        "Taken": "<p>Old post.</p>\n",  # sent concurrently: order is not promised
        "Taken again": "<p>New post.</p>\n",
    }


def test_the_outbox_holds_no_copy_of_a_post(core, clock) -> None:
    """The post's row has the post; an event waiting for fan-out, or fanned out to no
    endpoint, does not copy it (100,000 imported posts would otherwise double the database)."""
    body = "Long text. " * 2000
    publish(core, "Big", content_source=body)
    with core.reading() as session:
        (waiting,) = session.scalars(select(WebhookEvent))
        assert len(waiting.snapshot) < 100
    deliver(core)  # no endpoint: nothing will ever send it
    with core.reading() as session:
        (done,) = session.scalars(select(WebhookEvent))
        assert done.fanned_out_at is not None
        assert len(done.snapshot) < 100 and done.body is None
