"""Post rules and queries: visibility, slugs, stable ids, paging.

Every change goes through `create`, `update` or `delete`, which bump the
feed's version in the same transaction, whoever the caller is (the content
folder, the admin API, the scheduler).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, inspect, select
from sqlalchemy import update as update_rows
from sqlalchemy.orm import Session

from syndicator import bulk, events, markup, slugs, timestamps, xmltext
from syndicator.errors import InvalidInput, NotFound, PostGone, PostNotFound, SlugTaken
from syndicator.feeds import catalog
from syndicator.media import links
from syndicator.models import Post, PostSource, PostStatus, PostTag
from syndicator.posts import attachments, counts, listing, visibility


@dataclass(frozen=True)
class PostData:
    """A post as its author describes it, before any rule is applied."""

    title: str
    published_at: datetime
    content_source: str = ""
    content_html: str | None = None
    summary: str | None = None
    slug: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    status: PostStatus = PostStatus.PUBLISHED
    updated_at: datetime | None = None
    guid: str | None = None
    # The post's file inside its feed folder, against which its relative links are read.
    location: str | None = None
    attachments: tuple[attachments.Attachment, ...] = ()
    episode: int | None = None
    season: int | None = None


@dataclass(frozen=True)
class Origin:
    """Where a post comes from, so the folder and the API never fight over one."""

    source: PostSource = PostSource.API
    path: str | None = None
    content_hash: str | None = None
    # The file's size and mtime as last read, so the next import can skip it unread.
    size: int | None = None
    mtime_ns: int | None = None


@dataclass(frozen=True)
class Page:
    posts: list[Post]
    number: int
    total_pages: int
    next_due_at: datetime | None = None
    # When the newest visible post's date came: a scheduled post coming due moved every page.
    newest_at: datetime | None = None


@dataclass(frozen=True)
class Cleaned(PostData):
    """A post that went through `clean`: the rules are not applied twice (the importer
    cleans in worker processes, then hands the result to `create` or `update`)."""


def clean(data: PostData) -> Cleaned:
    """Strip forbidden characters, render Markdown, derive the slug; raise on bad fields."""
    if isinstance(data, Cleaned):
        return data
    title = xmltext.clean(data.title).strip()
    rewrite = links.resolver(data.location)
    html = (
        markup.sanitize(data.content_html, rewrite)
        if data.content_html is not None
        else markup.render_markdown(data.content_source, rewrite)
    )
    slug = data.slug.strip() if data.slug else slugs.slugify(title)
    errors = {}
    if not title:
        errors["title"] = "is required"
    if reason := slugs.problem(slug):
        errors["slug"] = reason
    for name, moment in (("published", data.published_at), ("updated", data.updated_at)):
        if moment is not None and moment.tzinfo is None:
            errors[name] = "needs a time zone"
        elif moment is not None and (problem := timestamps.range_problem(moment)):
            errors[name] = problem
    if errors:
        raise InvalidInput(errors)
    tags = tuple(dict.fromkeys(t for t in (xmltext.clean(x).strip() for x in data.tags) if t))
    return Cleaned(
        **{
            **vars(data),
            "title": title,
            "content_source": xmltext.clean(data.content_source),
            "content_html": html,
            "summary": _clean_text(data.summary),
            "author": _clean_text(data.author),
            "slug": slug,
            "tags": tags,
        }
    )


def _clean_text(value: str | None) -> str | None:
    cleaned = xmltext.clean_optional(value)
    return cleaned.strip() or None if cleaned is not None else None


def create(session: Session, feed_slug: str, data: PostData, origin: Origin, now: datetime) -> Post:
    data = clean(data)
    assert data.slug is not None
    _free_slug(session, feed_slug, data.slug)
    fresh = _fresh(feed_slug, data, origin, now)
    post = Post(**fresh.post)
    post.tags = [PostTag(**tag) for tag in fresh.tags]
    session.add(post)
    catalog.touch(session, feed_slug, now)
    session.flush()
    _settle(session, feed_slug, [(post.id, fresh)], now)
    return post


def create_new(
    session: Session, feed_slug: str, items: Sequence[tuple[PostData, Origin]], now: datetime
) -> tuple[list[Origin], list[tuple[PostData, Origin]]]:
    """Create at once every post whose slug and id no post holds yet (the bulk of a
    first import); hand back the others, for `create` to reclaim a slug or refuse it.

    The same rules as `create`, checked for the whole batch in two queries. The new
    posts are written with a statement per table: the session's bookkeeping for each
    object would cost more than the writing (a first import brings 100,000).
    """
    cleaned = [(clean(data), origin) for data, origin in items]
    slugs_held = set(
        session.scalars(
            select(Post.slug).where(
                Post.feed_slug == feed_slug, Post.slug.in_({data.slug for data, _ in cleaned})
            )
        )
    )
    explicit = {data.guid for data, _ in cleaned if data.guid}
    ids_held = set(session.scalars(select(Post.guid).where(Post.guid.in_(explicit))))
    new: list[_Fresh] = []
    created: list[Origin] = []
    left: list[tuple[PostData, Origin]] = []
    for data, origin in cleaned:
        if data.slug in slugs_held or (data.guid and data.guid in ids_held):
            left.append((data, origin))
            continue
        slugs_held.add(data.slug or "")
        ids_held.add(data.guid or "")
        new.append(_fresh(feed_slug, data, origin, now))
        created.append(origin)
    if new:
        catalog.touch(session, feed_slug, now)
        _settle(session, feed_slug, list(zip(_insert(session, new), new, strict=True)), now)
    return created, left


def _insert(session: Session, new: list[_Fresh]) -> list[int]:
    """Write new posts and their tags, a statement per table; the posts' ids, in order."""
    posts, tags = Post.__table__, PostTag.__table__
    assert isinstance(posts, Table) and isinstance(tags, Table)
    ids = bulk.add_numbered(session, posts, [fresh.post for fresh in new])
    tag_rows = [
        tag | {"post_id": post_id}
        for post_id, fresh in zip(ids, new, strict=True)
        for tag in fresh.tags
    ]
    bulk.add(session, tags, tag_rows)
    return ids


@dataclass(frozen=True)
class _Fresh:
    """A new post as rows (its own and its tags'), and what it adds to the counts.
    Plain values, not mapped objects: building those cost more than writing the rows."""

    post: dict[str, Any]
    tags: list[dict[str, Any]]
    units: tuple[counts.Unit, ...]


def _fresh(feed_slug: str, data: Cleaned, origin: Origin, now: datetime) -> _Fresh:
    assert data.slug is not None and data.content_html is not None
    listed = visibility.listed(data.status, None)
    live = now if visibility.visible(data.status, None, data.published_at, now) else None
    post = {
        "feed_slug": feed_slug,
        "guid": data.guid or f"urn:uuid:{uuid.uuid4()}",
        "slug": data.slug,
        "title": data.title,
        "content_source": data.content_source,
        "content_html": data.content_html,
        "summary": data.summary,
        "author": data.author,
        "status": data.status,
        "published_at": data.published_at,
        "updated_at": max(data.updated_at or data.published_at, data.published_at),
        "went_live_at": live,  # what `_mark_live` sets on a post never live before
        "first_live_at": live,
        "deleted_at": None,
        "source": origin.source,
        "source_path": origin.path,
        "source_hash": origin.content_hash,
        "source_size": origin.size,
        "source_mtime_ns": origin.mtime_ns,
        "attachments": attachments.stored(data.attachments),
        "episode": data.episode,
        "season": data.season,
        "created_at": now,
    }
    copied = _copied_to_tags(feed_slug, data.published_at, listed)
    tags = [
        {"tag_slug": slug, "name": name, "position": position, **copied}
        for position, (slug, name) in enumerate(_tag_slugs(data.tags).items())
    ]
    units = _units_of(listed, data.published_at, [tag["tag_slug"] for tag in tags])
    return _Fresh(post, tags, units)


def _settle(
    session: Session, feed_slug: str, written: list[tuple[int, _Fresh]], now: datetime
) -> None:
    """What new posts of a feed change besides their rows: its counts, and the outbox."""
    counts.change(session, feed_slug, (), [unit for _, fresh in written for unit in fresh.units])
    announced = [post_id for post_id, fresh in written if fresh.post["went_live_at"] is not None]
    events.record_new(session, events.EventType.POST_PUBLISHED, feed_slug, announced, now)


def update(session: Session, post: Post, data: PostData, origin: Origin, now: datetime) -> bool:
    """Apply new data; True when readers would see a difference.

    `updated_at` moves only then (or when the author sets it), so a re-save
    with the same text does not make every reader show the post as changed.
    """
    listed_before = _counted(post)
    data = clean(data)
    assert data.slug is not None
    if data.slug != post.slug:
        _free_slug(session, post.feed_slug, data.slug)
    visible_before = _visible_fields(post)
    was_announced = _announced(post, now)
    events.freeze(session, post)
    post.title, post.content_source, post.content_html = (
        data.title,
        data.content_source,
        data.content_html or "",
    )
    post.summary, post.author, post.slug = data.summary, data.author, data.slug
    post.status, post.published_at = data.status, data.published_at
    post.attachments = attachments.stored(data.attachments)
    post.episode, post.season = data.episode, data.season
    post.source, post.source_path, post.source_hash = (
        origin.source,
        origin.path,
        origin.content_hash,
    )
    post.source_size, post.source_mtime_ns = origin.size, origin.mtime_ns
    _set_tags(post, data.tags)
    changed = _visible_fields(post) != visible_before
    if data.updated_at is not None:
        post.updated_at = max(data.updated_at, post.published_at)
    elif changed:
        post.updated_at = max(now, post.published_at)
    _mark_live(post, now)
    if changed:
        catalog.touch(session, post.feed_slug, now)
    counts.change(session, post.feed_slug, listed_before, _units(post))
    session.flush()
    _record_change(session, post, was_announced=was_announced, changed=changed, now=now)
    return changed


def delete(session: Session, post: Post, now: datetime) -> None:
    """Tombstone the post: it leaves every list and its permalink answers 410."""
    was_announced = _announced(post, now)
    listed_before = _counted(post)
    post.deleted_at = now
    _copy_to_tags(post)
    catalog.touch(session, post.feed_slug, now)
    counts.change(session, post.feed_slug, listed_before, ())
    session.flush()
    if was_announced:
        events.record(session, events.EventType.POST_DELETED, post, now)


def _announced(post: Post, now: datetime) -> bool:
    """Visible, and known to be: webhook receivers have been told it is there."""
    return post.went_live_at is not None and visibility.is_visible(post, now)


def _record_change(
    session: Session, post: Post, *, was_announced: bool, changed: bool, now: datetime
) -> None:
    """The event an update causes: it appeared, it left every feed, or it changed."""
    is_announced = _announced(post, now)
    if is_announced and not was_announced:
        events.record(session, events.EventType.POST_PUBLISHED, post, now)
    elif was_announced and not is_announced:
        events.record(session, events.EventType.POST_DELETED, post, now)
    elif is_announced and changed:
        events.record(session, events.EventType.POST_UPDATED, post, now)


def _visible_fields(post: Post) -> tuple[object, ...]:
    return (
        post.title,
        post.content_html,
        post.summary,
        post.author,
        post.slug,
        post.status,
        post.published_at,
        tuple(post.tag_names),
        post.attachments,
        post.episode,
        post.season,
    )


def _tag_slugs(names: tuple[str, ...]) -> dict[str, str]:
    """Each tag's slug and the name it is first spelt with: names of one slug are one tag."""
    by_slug: dict[str, str] = {}
    for name in names:
        by_slug.setdefault(slugs.tag_slug(name) or "tag", name)
    return by_slug


def _set_tags(post: Post, names: tuple[str, ...]) -> None:
    current = {tag.tag_slug: tag for tag in post.tags}
    post.tags = [
        _tag(current.get(slug), slug, name, position)
        for position, (slug, name) in enumerate(_tag_slugs(names).items())
    ]
    _copy_to_tags(post)


def _copy_to_tags(post: Post) -> None:
    copied = _copied_to_tags(post.feed_slug, post.published_at, visibility.is_listed(post))
    for tag in post.tags:
        for name, value in copied.items():
            setattr(tag, name, value)


def _copied_to_tags(feed_slug: str, published_at: datetime, listed: bool) -> dict[str, Any]:
    """Tag rows repeat what a tag's page is read by: the post's feed, date and listing."""
    return {"feed_slug": feed_slug, "published_at": published_at, "listed": listed}


@dataclass(frozen=True)
class Repaired:
    """What `repair_listings` found wrong, and where."""

    tag_rows_feeds: frozenset[str]
    counts: counts.Recount


def repair_listings(session: Session, now: datetime) -> Repaired:
    """Make the tag rows and the counts what the posts say again, with every writer held
    off; the feeds where anything was wrong get a new version (their pages change)."""
    catalog.lock_all(session)
    tag_rows_feeds = frozenset(repair_tag_rows(session))
    found = counts.recount(session)
    for slug in sorted(tag_rows_feeds | found.feeds):
        catalog.touch(session, slug, now)
    return Repaired(tag_rows_feeds, found)


def repair_tag_rows(session: Session) -> set[str]:
    """Make each tag row repeat its post again (feed, date, listed) where it does not,
    after posts were changed outside syndicator; the feeds whose rows were wrong."""
    rows = session.execute(
        select(
            PostTag.post_id,
            PostTag.tag_slug,
            PostTag.feed_slug,
            PostTag.published_at,
            PostTag.listed,
            Post.feed_slug,
            Post.published_at,
            Post.status,
            Post.deleted_at,
        )
        .join(Post, Post.id == PostTag.post_id)
        .execution_options(yield_per=10_000)
    )
    fixes: list[dict[str, Any]] = []
    feeds: set[str] = set()
    for post_id, tag, was_feed, was_at, was_listed, feed_slug, at, status, deleted_at in rows:
        listed = visibility.listed(status, deleted_at)
        if (was_feed, was_at, was_listed) != (feed_slug, at, listed):
            fixes.append({"id": post_id, "tag": tag, "feed": feed_slug, "at": at, "on": listed})
            feeds |= {was_feed, feed_slug}
    if fixes:
        table = PostTag.__table__
        assert isinstance(table, Table)
        session.execute(
            update_rows(table)
            .where(table.c.post_id == bindparam("id"), table.c.tag_slug == bindparam("tag"))
            .values(
                feed_slug=bindparam("feed"), published_at=bindparam("at"), listed=bindparam("on")
            ),
            fixes,
        )
    return feeds


def _units(post: Post) -> tuple[counts.Unit, ...]:
    return _units_of(
        visibility.is_listed(post), post.published_at, [tag.tag_slug for tag in post.tags]
    )


def _units_of(listed: bool, published_at: datetime, tags: list[str]) -> tuple[counts.Unit, ...]:
    """What a post adds to the maintained counts: its feed and each tag, on its date."""
    if not listed:
        return ()
    return (("", published_at), *((tag, published_at) for tag in tags))


def _counted(post: Post) -> tuple[counts.Unit, ...]:
    """What the post added to the counts when last written: `_units` of its values as
    stored, since a caller may have changed some before handing it over (the importer
    brings a deleted post back by clearing `deleted_at`)."""
    stored = {name: _stored(post, name) for name in ("status", "deleted_at", "published_at")}
    if not visibility.listed(stored["status"], stored["deleted_at"]):
        return ()
    date = stored["published_at"]
    return (("", date), *((tag.tag_slug, date) for tag in post.tags))


def _stored(post: Post, name: str) -> Any:
    """An attribute as this transaction last wrote or read it, before unflushed changes."""
    history = inspect(post).attrs[name].history
    return history.deleted[0] if history.deleted else getattr(post, name)


def _tag(existing: PostTag | None, slug: str, name: str, position: int) -> PostTag:
    tag = existing or PostTag(tag_slug=slug)
    tag.name, tag.position = name, position
    return tag


def _mark_live(post: Post, now: datetime) -> None:
    if not visibility.is_visible(post, now):
        post.went_live_at = None
    elif post.went_live_at is None:
        post.went_live_at = now
        post.first_live_at = post.first_live_at or now


def _free_slug(session: Session, feed_slug: str, slug: str) -> None:
    """Refuse a slug a live post holds; reclaim it from a deleted one."""
    holder = session.scalar(select(Post).where(Post.feed_slug == feed_slug, Post.slug == slug))
    if holder is None:
        return
    if holder.deleted_at is None:
        raise SlugTaken(feed_slug, slug)
    events.freeze(session, holder)
    session.delete(holder)
    session.flush()


def publish_due(session: Session, now: datetime) -> list[Post]:
    """Mark scheduled posts whose time has come as live and drop their feeds' caches."""
    due = list(
        session.scalars(
            select(Post).where(Post.went_live_at.is_(None), visibility.visible_clause(now))
        )
    )
    for post in due:
        _mark_live(post, now)
        events.record(session, events.EventType.POST_PUBLISHED, post, now)
    for feed_slug in {post.feed_slug for post in due}:
        catalog.touch(session, feed_slug, now)
    session.flush()
    return due


def _visible(feed_slug: str, now: datetime) -> Select[Post]:
    """A feed's visible posts, newest first."""
    query = select(Post).where(Post.feed_slug == feed_slug, visibility.visible_clause(now))
    return query.order_by(Post.published_at.desc(), Post.id.desc())


def visible(session: Session, feed_slug: str, now: datetime) -> list[Post]:
    """Every visible post of a feed, newest first."""
    return list(session.scalars(_visible(feed_slug, now)))


def page(
    session: Session,
    feed_slug: str,
    *,
    number: int,
    per_page: int,
    now: datetime,
    tag: str | None = None,
) -> Page:
    """One page of visible posts, newest first; raises NotFound past the end."""
    size = listing.size(session, feed_slug, tag, now)
    total_pages = max(1, math.ceil(size.visible / per_page))
    if number < 1 or number > total_pages or (tag is not None and size.visible == 0):
        raise NotFound(f"page {number}")
    posts = listing.posts(
        session, feed_slug, tag, size=size, skip=(number - 1) * per_page, limit=per_page, now=now
    )
    return Page(
        posts,
        number,
        total_pages,
        next_due(session, feed_slug, now),
        listing.newest_at(session, feed_slug, tag, now),
    )


def next_due(session: Session, feed_slug: str, now: datetime) -> datetime | None:
    """When the next scheduled post of the feed becomes visible, if any."""
    return session.scalar(
        select(func.min(Post.published_at)).where(
            Post.feed_slug == feed_slug, visibility.scheduled_clause(now)
        )
    )


def find_visible(session: Session, feed_slug: str, slug: str, now: datetime) -> Post:
    """The post at a permalink; PostGone once deleted, PostNotFound when never visible."""
    post = session.scalar(select(Post).where(Post.feed_slug == feed_slug, Post.slug == slug))
    if post is None:
        raise PostNotFound(slug)
    if post.deleted_at is not None:
        raise PostGone(slug)
    if not visibility.is_visible(post, now):
        raise PostNotFound(slug)
    return post


def tag_name(session: Session, feed_slug: str, tag: str, now: datetime) -> str:
    """The display name of a tag that has visible posts (as its oldest one spells it);
    NotFound otherwise."""
    name = session.scalar(
        select(PostTag.name)
        .where(
            PostTag.feed_slug == feed_slug,
            PostTag.tag_slug == tag,
            visibility.tag_visible_clause(now),
        )
        .order_by(PostTag.published_at, PostTag.post_id)
        .limit(1)
    )
    if name is None:
        raise NotFound(f"tag {tag}")
    return name


def tags(session: Session, feed_slug: str, now: datetime) -> list[tuple[str, str]]:
    """(slug, name) of every tag with visible posts in the feed."""
    rows = session.execute(
        select(PostTag.tag_slug, func.min(PostTag.name))
        .where(PostTag.feed_slug == feed_slug, visibility.tag_visible_clause(now))
        .group_by(PostTag.tag_slug)
        .order_by(PostTag.tag_slug)
    )
    return [(slug, name) for slug, name in rows]


@dataclass(frozen=True)
class Stamp:
    """A visible post as a site map sees it: where it is, when it changed, its tags."""

    slug: str
    updated_at: datetime
    tags: frozenset[str]


def stamps(session: Session, feed_slug: str, now: datetime) -> list[Stamp]:
    """Every visible post of a feed, newest first (as `page` orders), without its content."""
    tagged: dict[int, set[str]] = {}
    for post_id, tag in session.execute(
        select(PostTag.post_id, PostTag.tag_slug).where(
            PostTag.feed_slug == feed_slug, visibility.tag_visible_clause(now)
        )
    ):
        tagged.setdefault(post_id, set()).add(tag)
    rows = session.execute(
        _visible(feed_slug, now).with_only_columns(Post.id, Post.slug, Post.updated_at)
    )
    return [Stamp(slug, updated, frozenset(tagged.get(id_, ()))) for id_, slug, updated in rows]
