"""`syndicator posts`: the admin API's post operations, for editors who live in a terminal.

Built on `postadmin` like the API, so both refuse and allow exactly the same things.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from syndicator import paging, timestamps
from syndicator.cli import subgroup, with_core
from syndicator.core import Core
from syndicator.models import Post
from syndicator.posts import admin, fields

_STATES = click.Choice([state.value for state in fields.PostState])


posts_group = subgroup("posts", "List, show, publish, unpublish and delete posts by id.")


@posts_group.command("list")
@click.option("--feed", help="Only this feed (default: every feed).")
@click.option("--status", type=_STATES, help="Only drafts, scheduled or published posts.")
@click.option("--tag", help="Only posts with this tag (name or slug).")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_core(migrate=True)
def list_command(
    core: Core,
    feed: str | None,
    status: str | None,
    tag: str | None,
    limit: int,
    page: int,
    as_json: bool,
) -> None:
    """Posts, newest first."""
    filters = admin.Filters(feed=feed, state=fields.parse_state(status), tag=tag)
    now = core.now()
    with core.reading() as session:
        found, cursor = _nth_page(session, filters, now, limit, page)
        rows = [admin.as_dict(post, core.urls, now) for post in found]
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False) if as_json else _line(row))
    if cursor is not None and not as_json:
        click.echo(f"(more: --page {page + 1})")


def _nth_page(
    session: Session, filters: admin.Filters, now: datetime, limit: int, number: int
) -> tuple[list[Post], str | None]:
    """Page `number` (from 1) of the API's list: its cursor followed number - 1 times."""
    found, cursor = admin.search(session, filters, now=now, window=paging.Window(limit))
    for _ in range(number - 1):
        if cursor is None:
            return [], None
        found, cursor = admin.search(session, filters, now=now, window=paging.Window(limit, cursor))
    return found, cursor


def _line(row: dict[str, Any]) -> str:
    return f"{row['id']:>6}  {row['status']:<9}  {row['published']}  {row['url']}  {row['title']}"


@posts_group.command("show")
@click.argument("post_id", type=int)
@with_core(migrate=True)
def show(core: Core, post_id: int) -> None:
    """The post as JSON, as the API shows it."""
    with core.reading() as session:
        row = admin.as_dict(admin.find(session, post_id), core.urls, core.now())
    click.echo(json.dumps(row, ensure_ascii=False, indent=2))


@posts_group.command("publish")
@click.argument("post_id", type=int)
@click.option("--at", "at", metavar="TIME", help="RFC 3339 time; in the future schedules it.")
@with_core(migrate=True)
def publish(core: Core, post_id: int, at: str | None) -> None:
    """Make a draft or scheduled post live now (or at --at)."""
    try:
        moment = timestamps.parse_rfc3339(at) if at is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    desk = admin.Desk.of(core)
    with core.transaction() as session:
        post = admin.publish(session, post_id, desk, at=moment)
        click.echo(_outcome(post, core, desk))


@posts_group.command("unpublish")
@click.argument("post_id", type=int)
@with_core(migrate=True)
def unpublish(core: Core, post_id: int) -> None:
    """Turn a post back into a draft: it leaves every feed and page."""
    desk = admin.Desk.of(core)
    with core.transaction() as session:
        click.echo(_outcome(admin.unpublish(session, post_id, desk), core, desk))


@posts_group.command("delete")
@click.argument("post_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_core(migrate=True)
def delete(core: Core, post_id: int, yes: bool) -> None:
    """Remove a post from every feed and page; its permalink then answers 410."""
    desk = admin.Desk.of(core)
    with core.transaction() as session:
        post = admin.find(session, post_id)
        if not yes:
            click.confirm(f"Delete post {post_id} '{post.title}'?", abort=True)
        admin.delete(session, post_id, desk)
    click.echo(f"post {post_id} deleted")


def _outcome(post: Post, core: Core, desk: admin.Desk) -> str:
    state = admin.state(post, desk.now)
    url = core.urls.post(post.feed_slug, post.slug)
    if state == fields.PostState.SCHEDULED:
        return f"post {post.id} is scheduled for {timestamps.rfc3339(post.published_at)}: {url}"
    return f"post {post.id} is {state.value}: {url}"
