"""Concurrent writes against a real `syndicator serve` while its scheduler ticks every
second: no request answers 5xx, and every row a 2xx promised is there afterwards.

On SQLite this failed with 500 "database is locked" for up to half the writes
before write transactions began IMMEDIATE.
"""

from __future__ import annotations

from datetime import UTC, datetime

import requests
import write_load
from server_process import serving
from sqlalchemy import create_engine, func, select

from syndicator.models import Channel, Delivery, Post, Subscriber, WebhookEndpoint

TOKEN = "load-test-token"
WRITERS = 6
WRITES = 200  # per writer, as issue 9 measured it; speed is bench/writes.py's business


def test_six_writers_while_the_scheduler_ticks_get_no_5xx_and_lose_nothing(
    tmp_path, blog, database_url
):
    blog.post("first")
    blog.post("elsewhere", feed=write_load.QUIET_FEED)
    config = write_load.config_text(database_url, str(blog.root), TOKEN)
    with serving(tmp_path, config) as base:
        every_post = {"url": write_load.HOOK_URL, "description": "fails: the scheduler records it"}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        hook = requests.post(f"{base}/api/webhooks", json=every_post, headers=headers, timeout=10)
        assert hook.status_code == 201
        made = write_load.run(base, TOKEN, writers=WRITERS, writes=WRITES)
        load_ended_at = datetime.now(UTC)

    server_log = (tmp_path / "serve.log").read_text(errors="replace")
    assert made.server_errors() == [], server_log[-4000:]  # the server's side of a 5xx
    assert made.unexpected() == []
    assert len(made.statuses) == WRITERS * WRITES
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            posts = dict(connection.execute(select(Post.id, Post.deleted_at)).all())
            emails = set(connection.scalars(select(Subscriber.email)))
            hooks = set(connection.scalars(select(WebhookEndpoint.id)))
            first_fanned_out_at = connection.scalar(
                select(func.min(Delivery.created_at)).where(Delivery.channel == Channel.WEBHOOK)
            )
    finally:
        engine.dispose()
    assert all(posts.get(post_id, "missing") is None for post_id in made.posts)
    assert all(posts.get(post_id) is not None for post_id in made.deleted_posts)
    assert made.subscribers <= emails
    assert made.webhooks <= hooks
    # The scheduler was writing too: it fanned the new posts out to the webhook meanwhile.
    assert first_fanned_out_at is not None
    assert first_fanned_out_at.replace(tzinfo=UTC) < load_ended_at
