"""Concurrent writes against a real `syndicator serve` while its scheduler ticks every
second: no request answers 5xx, and every row a 2xx promised is there afterwards.

On SQLite this failed with 500 "database is locked" for up to half the writes
before write transactions began IMMEDIATE.
"""

from __future__ import annotations

import write_load
from server_process import serving
from sqlalchemy import create_engine, func, select

from syndicator.models import MailMessage, MailStatus, Post, Subscriber, WebhookEndpoint

TOKEN = "load-test-token"
WRITERS = 6
WRITES = 100  # per writer; 200 took 36 s (SQLite) and 49 s (PostgreSQL) on the shared 2 cores


def test_six_writers_while_the_scheduler_ticks_get_no_5xx_and_lose_nothing(
    tmp_path, blog, database_url
):
    blog.post("first")
    blog.post("elsewhere", feed=write_load.QUIET_FEED)
    config = write_load.config_text(database_url, str(blog.root), TOKEN)
    with serving(tmp_path, config) as base:
        made = write_load.run(base, TOKEN, writers=WRITERS, writes=WRITES)

    assert made.server_errors() == []
    assert made.unexpected() == []
    assert len(made.statuses) == WRITERS * WRITES
    assert made.elapsed[0] < 40, f"{made.elapsed[0]:.1f}s for {WRITERS * WRITES} writes"
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            posts = dict(connection.execute(select(Post.id, Post.deleted_at)).all())
            emails = set(connection.scalars(select(Subscriber.email)))
            hooks = set(connection.scalars(select(WebhookEndpoint.id)))
            mailed = connection.scalar(
                select(func.count()).where(MailMessage.status == MailStatus.SENT)
            )
    finally:
        engine.dispose()
    assert all(posts.get(post_id, "missing") is None for post_id in made.posts)
    assert all(posts.get(post_id) is not None for post_id in made.deleted_posts)
    assert made.subscribers <= emails
    assert made.webhooks <= hooks
    assert mailed > 0  # the scheduler was writing too: it sent confirmations during the load
