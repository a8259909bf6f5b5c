"""The scheduler's tick: scheduled posts go live once, wherever they came from."""

import pytest
from sqlalchemy import select
from webhook_support import FAST, Receiver

from syndicator import worker
from syndicator.models import Feed, Post


def test_tick_marks_due_posts_live_once_and_bumps_the_feed_version(core, blog, sync, clock):
    blog.post("scheduled", date="2026-11-26T12:10:00Z")
    sync()
    assert worker.tick(core).went_live == []
    with core.reading() as session:
        version = session.get(Feed, "news").version
    clock.advance(minutes=10)
    assert worker.tick(core).went_live == ["news/scheduled"]
    assert worker.tick(core).went_live == []
    with core.reading() as session:
        post = session.scalar(select(Post).where(Post.slug == "scheduled"))
        assert post.went_live_at == clock()
        assert session.get(Feed, "news").version == version + 1


def test_posts_already_due_at_import_are_live_without_a_tick(core, blog, sync, clock):
    blog.post("past", date="2026-01-01T00:00:00Z")
    sync()
    with core.reading() as session:
        assert session.scalar(select(Post.went_live_at)) == clock()
    assert worker.tick(core).went_live == []


def test_drafts_never_go_live(core, blog, sync, clock):
    blog.post("draft", draft=True, date="2026-01-01T00:00:00Z")
    sync()
    clock.advance(days=30)
    assert worker.tick(core).went_live == []


def test_tick_is_counted_in_metrics(core, client):
    worker.tick(core)
    body = client.get("/metrics").data.decode()
    assert "syndicator_worker_ticks_total 1.0" in body


@pytest.mark.config(webhooks=FAST)
def test_webhook_attempts_are_counted_by_outcome(core, make_feed, make_endpoint, make_post):
    make_feed()
    with Receiver() as receiver:
        make_endpoint(receiver.url())
        make_endpoint("http://127.0.0.1:9/refused")
        make_post("Hello")
        worker.tick(core)
    body = core.metrics.exposition().decode()
    assert 'syndicator_webhook_attempts_total{outcome="succeeded"} 1.0' in body
    assert 'syndicator_webhook_attempts_total{outcome="failed"} 1.0' in body


def test_a_live_post_moved_to_the_future_is_withdrawn_then_announced_again_when_due(
    core, blog, sync, clock
):
    from syndicator.models import WebhookEvent

    blog.post("moving", date="2026-11-26T11:00:00Z")
    sync()
    blog.post("moving", date="2026-11-26T13:00:00Z")
    sync()
    worker.tick(core)
    clock.advance(hours=1, minutes=1)
    assert worker.tick(core).went_live == ["news/moving"]
    with core.reading() as session:
        types = session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)).all()
        post = session.scalar(select(Post).where(Post.slug == "moving"))
    assert types == ["post.published", "post.deleted", "post.published"]
    assert post.first_live_at < post.went_live_at == clock()
