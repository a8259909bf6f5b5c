"""Makes the database match the content folder.

A bad file is reported and left alone (its last good version stays
published); every other file still imports. Importing twice changes nothing:
a file whose bytes did not change is not even parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from syndicator import slugs
from syndicator.errors import BadPostFile, InvalidInput, SlugTaken
from syndicator.feeds import catalog
from syndicator.models import Post, PostSource
from syndicator.posts import files, store

_IMPORT_LOCK = 0x5359_4E44  # "SYND"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[BadPostFile] = field(default_factory=list)


def sync(session: Session, content_dir: Path, timezone: ZoneInfo, now: datetime) -> SyncReport:
    report = SyncReport()
    if session.get_bind().dialect.name == "postgresql":
        # Several web processes may start at once: one import at a time.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK})
    if not content_dir.is_dir():
        report.errors.append(BadPostFile(str(content_dir), "content folder not found"))
        return report
    for feed_dir in sorted(path for path in content_dir.iterdir() if path.is_dir()):
        if feed_dir.name.startswith("."):
            continue
        _sync_feed(session, feed_dir, content_dir, timezone, now, report)
    return report


def _sync_feed(
    session: Session,
    feed_dir: Path,
    content_dir: Path,
    timezone: ZoneInfo,
    now: datetime,
    report: SyncReport,
) -> None:
    slug = feed_dir.name
    if reason := slugs.problem(slug):
        report.errors.append(BadPostFile(str(feed_dir), f"feed folder name {reason}"))
        return
    try:
        settings = files.parse_feed_settings(feed_dir / "feed.toml")
    except FileNotFoundError:
        report.errors.append(BadPostFile(str(feed_dir / "feed.toml"), "missing"))
        return
    except BadPostFile as error:
        report.errors.append(error)
        return
    catalog.upsert(session, slug, settings, now)
    owned: dict[str, Post] = {
        post.source_path: post
        for post in session.scalars(
            select(Post).where(
                Post.feed_slug == slug, Post.source == PostSource.FILE, Post.deleted_at.is_(None)
            )
        )
        if post.source_path is not None  # always set for a file's post
    }
    present: set[str] = set()
    changed_files: list[files.PostFile] = []
    for file in sorted((feed_dir / "posts").glob("*.md")):
        path = file.relative_to(content_dir).as_posix()
        present.add(path)
        parsed = _read_if_changed(file, path, owned.get(path), timezone, report)
        if parsed is not None:
            changed_files.append(parsed)
    vanished = {path: post for path, post in owned.items() if path not in present}
    for parsed in changed_files:
        _apply(session, slug, parsed, owned.get(parsed.path), vanished, now, report)
    for path, post in vanished.items():
        store.delete(session, post, now)
        report.deleted.append(path)


def _read_if_changed(
    file: Path, path: str, post: Post | None, timezone: ZoneInfo, report: SyncReport
) -> files.PostFile | None:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        report.errors.append(BadPostFile(path, f"cannot read: {exc.strerror}"))
        return None
    if post is not None and post.source_hash == files.file_hash(raw):
        report.unchanged.append(path)
        return None
    try:
        return files.parse_post(path, raw, timezone)
    except BadPostFile as error:
        report.errors.append(error)
        return None


def _apply(
    session: Session,
    feed_slug: str,
    parsed: files.PostFile,
    post: Post | None,
    vanished: dict[str, Post],
    now: datetime,
    report: SyncReport,
) -> None:
    """Create or update one file's post inside a savepoint, so a clash spoils only it."""
    origin = store.Origin(PostSource.FILE, parsed.path, parsed.content_hash)
    try:
        with session.begin_nested():
            post = post or _renamed(session, feed_slug, parsed, vanished)
            if post is None:
                store.create(session, feed_slug, parsed.data, origin, now)
                report.created.append(parsed.path)
            else:
                store.update(session, post, parsed.data, origin, now)
                report.updated.append(parsed.path)
    except (InvalidInput, SlugTaken) as error:
        reason = "; ".join(f"{key} {message}" for key, message in error.fields.items())
        report.errors.append(BadPostFile(parsed.path, reason))


def _renamed(
    session: Session, feed_slug: str, parsed: files.PostFile, vanished: dict[str, Post]
) -> Post | None:
    """The post a renamed file used to be, so its entry id survives the rename.

    An explicit `id` decides; otherwise a vanished file of the same feed with
    the same date (and only one such) is taken to be the same post.
    """
    if parsed.data.guid:
        holder = session.scalar(select(Post).where(Post.guid == parsed.data.guid))
        if holder is None:
            return None
        moved = holder.deleted_at is not None or holder.source_path in vanished
        if holder.feed_slug != feed_slug or holder.source != PostSource.FILE or not moved:
            raise InvalidInput({"id": f"'{parsed.data.guid}' is already used by another post"})
        vanished.pop(holder.source_path or "", None)
        holder.deleted_at = None
        return holder
    same_date = [
        path for path, post in vanished.items() if post.published_at == parsed.data.published_at
    ]
    if len(same_date) != 1:
        return None
    return vanished.pop(same_date[0])
