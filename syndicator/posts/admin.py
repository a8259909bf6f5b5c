"""Editing posts by id: what the admin API and `syndicator posts` both do.

Every change goes through `store.create` / `store.update` / `store.delete`,
so feed versions (and the event outbox) move in the caller's transaction.
A post whose file is still in the content folder belongs to that file: the
next import would undo an edit made here, so such edits are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator import paging, slugs, timestamps, xmltext
from syndicator.errors import Conflict, FeedNotFound, InvalidInput, PostNotFound, SlugTaken
from syndicator.feeds import catalog
from syndicator.media import store as media
from syndicator.models import Feed, Post, PostSource, PostStatus, PostTag, is_valid_id
from syndicator.posts import attachments, store, visibility
from syndicator.posts.fields import Changes, PostState
from syndicator.urls import Urls

if TYPE_CHECKING:
    from syndicator.core import Core

NEWEST_FIRST = paging.Keyset((Post.published_at, Post.id), descending=True)
_SLUG_ATTEMPTS = 5  # concurrent creates with one title each get their own free slug


@dataclass(frozen=True)
class Filters:
    feed: str | None = None
    state: PostState | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Desk:
    """What every edit needs besides the session: the time, and the folder that owns files."""

    now: datetime
    content_dir: Path

    @classmethod
    def of(cls, core: Core) -> Desk:
        return cls(now=core.now(), content_dir=core.config.path(core.config.storage.content_dir))


def state(post: Post, now: datetime) -> PostState:
    if post.status == PostStatus.DRAFT:
        return PostState.DRAFT
    return PostState.SCHEDULED if post.published_at > now else PostState.PUBLISHED


def as_dict(post: Post, urls: Urls, now: datetime) -> dict[str, Any]:
    """The post as the API and the CLI show it."""
    from_html = not post.content_source and bool(post.content_html)
    return {
        "id": post.id,
        "guid": post.guid,
        "feed": post.feed_slug,
        "url": urls.post(post.feed_slug, post.slug),
        "slug": post.slug,
        "title": post.title,
        "content": None if from_html else post.content_source,
        "content_html": post.content_html,
        "summary": post.summary,
        "author": post.author,
        "tags": post.tag_names,
        "status": state(post, now).value,
        "published": timestamps.rfc3339(post.published_at),
        "updated": timestamps.rfc3339(post.updated_at),
        "created": timestamps.rfc3339(post.created_at),
        "source": post.source,
        "source_path": post.source_path,
        "attachments": [
            attachments.shown(item, urls.post(post.feed_slug, post.slug))
            for item in attachments.loaded(post.attachments)
        ],
        "episode": post.episode,
        "season": post.season,
    }


def find(session: Session, post_id: int) -> Post:
    """A live (not deleted) post; PostNotFound otherwise."""
    post = session.get(Post, post_id) if is_valid_id(post_id) else None
    if post is None or post.deleted_at is not None:
        raise PostNotFound(f"no post with id {post_id}")
    return post


def require_feed(session: Session, feed_slug: str, *, lock: bool = False) -> None:
    """FeedNotFound unless the feed exists; `lock` makes writers to one feed take turns."""
    if (
        slugs.problem(feed_slug) is not None
        or session.get(Feed, feed_slug, with_for_update=lock) is None
    ):
        raise FeedNotFound(catalog.missing(session, feed_slug))


def search(
    session: Session, filters: Filters, *, now: datetime, window: paging.Window
) -> tuple[list[Post], str | None]:
    """One page of posts, newest first, and the cursor of the next page."""
    if filters.feed is not None:
        require_feed(session, filters.feed)
    return NEWEST_FIRST.page(session, _filtered(session, filters, now), window)


def _filtered(session: Session, filters: Filters, now: datetime) -> Select[Post]:
    query = select(Post).where(Post.deleted_at.is_(None))
    if filters.feed is not None:
        query = query.where(Post.feed_slug == filters.feed)
    if filters.tag is not None:
        query = query.where(Post.id.in_(_tagged(session, filters.tag, filters.feed)))
    if filters.state == PostState.DRAFT:
        query = query.where(Post.status == PostStatus.DRAFT)
    elif filters.state == PostState.SCHEDULED:
        query = query.where(visibility.scheduled_clause(now))
    elif filters.state == PostState.PUBLISHED:
        query = query.where(visibility.visible_clause(now))
    return query


def _tagged(session: Session, tag: str, feed: str | None) -> Select[int]:
    """The ids of the posts with `tag`, sought in ix_post_tags_listing, which starts with
    the feed (a tag row repeats its post's). Without a feed every feed is named, by value:
    PostgreSQL would walk a whole index for the tag rather than join a subquery of feeds."""
    feeds = [feed] if feed is not None else list(session.scalars(select(Feed.slug)))
    return select(PostTag.post_id).where(
        PostTag.feed_slug.in_(feeds), PostTag.tag_slug == slugs.tag_slug(tag)
    )


def create(session: Session, feed_slug: str, changes: Changes, desk: Desk) -> Post:
    """A new API post; SlugTaken when its explicit slug is held by another post.

    The feed row is locked first, so two creates with one title see each other's
    slug; a writer that does not lock (the importer) can still win the race, and
    then the slug is looked for again.
    """
    require_feed(session, feed_slug, lock=True)
    data = store.PostData(
        title=changes["title"],
        published_at=changes.get("published", desk.now),
        status=changes.get("status", PostStatus.PUBLISHED),
    )
    data = _apply(data, changes, desk.now, never_live=True)
    data = _with_files(session, feed_slug, data)
    explicit = changes.get("slug")
    base = slugs.slugify(xmltext.clean(data.title))
    for _attempt in range(_SLUG_ATTEMPTS):
        slug = explicit or _free_slug(session, feed_slug, base)
        try:
            with session.begin_nested():
                return store.create(
                    session, feed_slug, replace(data, slug=slug), store.Origin(), desk.now
                )
        except IntegrityError:
            # Another request took the same free slug between our look and our insert:
            # look again (the savepoint keeps the rest of the transaction usable).
            if explicit:
                raise SlugTaken(feed_slug, slug) from None
    raise SlugTaken(feed_slug, slug)


def patch(session: Session, post_id: int, changes: Changes, desk: Desk) -> Post:
    """Change only the given fields; `updated` moves only when readers see a difference."""
    post = find(session, post_id)
    ensure_editable(post, desk.content_dir)
    data = _apply(_as_data(post), changes, desk.now, never_live=post.first_live_at is None)
    if "attachments" in changes:
        data = _with_files(session, post.feed_slug, data)
    try:
        with session.begin_nested():
            store.update(session, post, data, store.Origin(), desk.now)
    except IntegrityError:
        raise SlugTaken(post.feed_slug, data.slug or post.slug) from None
    return post


def publish(session: Session, post_id: int, desk: Desk, *, at: datetime | None = None) -> Post:
    """Make a post live now, or at `at` (scheduled when that is in the future).

    "Now" means now: a scheduled post is moved to this moment; a draft keeps
    its date when that has passed.
    """
    changes: Changes = {"status": PostStatus.PUBLISHED}
    if at is None and find(session, post_id).published_at > desk.now:
        at = desk.now
    if at is not None:
        changes["published"] = at
    return patch(session, post_id, changes, desk)


def unpublish(session: Session, post_id: int, desk: Desk) -> Post:
    """Turn a post back into a draft: it leaves every feed and page."""
    return patch(session, post_id, {"status": PostStatus.DRAFT}, desk)


def delete(session: Session, post_id: int, desk: Desk) -> Post:
    post = find(session, post_id)
    ensure_editable(post, desk.content_dir)
    store.delete(session, post, desk.now)
    return post


def ensure_editable(post: Post, content_dir: Path) -> None:
    """Refuse to change a post whose file still exists: the next import would undo it."""
    if post.source != PostSource.FILE or not post.source_path:
        return
    if (content_dir / post.source_path).is_file():
        raise Conflict(
            f"post {post.id} comes from the file {post.source_path} in the content folder;"
            " edit or delete that file instead"
        )


def _as_data(post: Post) -> store.PostData:
    return store.PostData(
        title=post.title,
        published_at=post.published_at,
        content_source=post.content_source,
        content_html=post.content_html,
        summary=post.summary,
        slug=post.slug,
        author=post.author,
        tags=tuple(post.tag_names),
        status=PostStatus(post.status),
        attachments=attachments.loaded(post.attachments),
        episode=post.episode,
        season=post.season,
    )


def _apply(
    data: store.PostData, changes: Changes, now: datetime, *, never_live: bool
) -> store.PostData:
    """`data` with the changes laid over it."""
    if "content" in changes:
        data = replace(data, content_source=changes["content"], content_html=None)
    if "content_html" in changes:
        data = replace(data, content_source="", content_html=changes["content_html"])
    simple = ("title", "summary", "slug", "author", "tags", "attachments", "episode", "season")
    data = replace(data, **{name: changes[name] for name in simple if name in changes})
    first_release = never_live and data.status == PostStatus.DRAFT
    if (
        first_release
        and changes.get("status") == PostStatus.PUBLISHED
        and "published" not in changes
    ):
        # A draft published without a date goes out now, not at the date it was drafted;
        # a post that was live before keeps its date when it comes back.
        data = replace(data, published_at=max(data.published_at, now))
    if "published" in changes:
        data = replace(data, published_at=changes["published"])
    return replace(data, status=changes.get("status", data.status))


def _with_files(session: Session, feed_slug: str, data: store.PostData) -> store.PostData:
    """Attachments naming media files get the file's type and length; InvalidInput names
    a file the feed's media folder does not have."""
    filled = []
    for number, item in enumerate(data.attachments, 1):
        key = attachments.file_key(item, 0) if item.is_file else None
        if key is None:
            filled.append(item)
            continue
        found = media.find(session, feed_slug, key[1])
        if found is None:
            problem = f"item {number}: no media file {key[1]!r}: upload it first"
            raise InvalidInput({"attachments": problem}, f"attachments {problem}")
        filled.append(replace(item, type=item.type or found.content_type, length=found.length))
    return replace(data, attachments=tuple(filled))


def _free_slug(session: Session, feed_slug: str, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever no live post of the feed holds.

    A long base is cut to make room for the number, so every slug keeps to the limit.
    """
    base = base or "post"
    taken = _live_slugs(session, feed_slug, base[: slugs.MAX_LENGTH // 2])
    candidates = (_numbered(base, n) for n in range(1, len(taken) + 3))
    return next(c for c in candidates if c not in taken and slugs.problem(c) is None)


def _numbered(base: str, number: int) -> str:
    if number == 1:
        return base
    suffix = f"-{number}"
    return base[: slugs.MAX_LENGTH - len(suffix)].rstrip("-") + suffix


def _live_slugs(session: Session, feed_slug: str, prefix: str) -> set[str]:
    query = select(Post.slug).where(
        Post.feed_slug == feed_slug, Post.deleted_at.is_(None), Post.slug.startswith(prefix)
    )
    return set(session.scalars(query))
