"""Makes the database match the content folder.

A bad file is reported and left alone (its last good version stays
published); every other file still imports. Importing twice changes nothing.

The work follows what changed, not the size of the blog: a file whose size
and modification time match what the last import recorded is not opened; one
whose stat moved is hashed, and parsed only when its bytes changed. Changed
files are applied in batches of their own transactions, so memory stays
bounded and writers from the API take their turn between batches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from syndicator import slugs
from syndicator.core import Core
from syndicator.errors import BadPostFile, InvalidInput, SlugTaken
from syndicator.feeds import catalog
from syndicator.media import folder as media_folder
from syndicator.media import links, names
from syndicator.models import Post, PostSource
from syndicator.posts import files, store

_IMPORT_LOCK = 0x5359_4E44  # "SYND"
BATCH = 200  # changed files per transaction
# A file modified this close to the listing may change again within the same mtime
# tick, keeping its size: its stat is not trusted, so the next import hashes it again.
RACY_NS = 2_000_000_000


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[BadPostFile] = field(default_factory=list)


class _Recorded(NamedTuple):
    """What the last import recorded about a file's post (a tuple: 100,000 of them are kept)."""

    id: int
    stat: tuple[int | None, int | None]  # size, mtime in ns


class _Found(NamedTuple):
    """A post file found in the folder, with its stat at the moment it was listed."""

    path: str  # relative to the content folder, as in reports and the database
    stat: tuple[int, int]  # size, mtime in ns


def sync(core: Core, content_dir: Path, *, batch: int = BATCH) -> SyncReport:
    """Import the folder; one import at a time across processes on PostgreSQL."""
    report = SyncReport()
    with _one_import_at_a_time(core):
        if not content_dir.is_dir():
            report.errors.append(BadPostFile(str(content_dir), "content folder not found"))
            return report
        for feed_dir in sorted(path for path in content_dir.iterdir() if path.is_dir()):
            if not feed_dir.name.startswith("."):
                _FeedImport(core, feed_dir, content_dir, report, batch).run()
    return report


@contextmanager
def _one_import_at_a_time(core: Core) -> Iterator[None]:
    """Several web processes may start at once: the later ones wait, then find nothing new.

    On SQLite each batch's transaction already takes the one write lock.
    """
    if core.engine.dialect.name != "postgresql":
        yield
        return
    with core.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _IMPORT_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _IMPORT_LOCK})
            connection.commit()


class _FeedImport:
    """One feed folder's import: a stat pass, then the changed files in batches."""

    def __init__(
        self, core: Core, feed_dir: Path, content_dir: Path, report: SyncReport, batch: int
    ) -> None:
        self.core, self.feed_dir, self.content_dir = core, feed_dir, content_dir
        self.slug, self.report, self.batch = feed_dir.name, report, batch
        self.now = core.now()
        self.listed_at_ns = time.time_ns()
        # Posts whose file is gone, by path: a renamed file may still claim one.
        self.vanished: dict[str, _Recorded] = {}
        self.bundles: list[str] = []  # posts/<name>/index.md found by the listing

    def run(self) -> None:
        recorded = self._start()
        if recorded is None:
            return
        changed: list[_Found] = []
        for found in self._listing():
            known = recorded.pop(found.path, None)
            if known is not None and known.stat == found.stat:
                self.report.unchanged.append(found.path)
            else:
                changed.append(found)
        self.vanished = recorded  # what is left was not found in the folder
        for start in range(0, len(changed), self.batch):
            self._import_batch(changed[start : start + self.batch])
        self._delete_vanished()
        self._sync_bundles()

    def _start(self) -> dict[str, _Recorded] | None:
        """Check and store the feed's settings; what the folder's posts were recorded as."""
        if reason := slugs.problem(self.slug):
            self.report.errors.append(BadPostFile(str(self.feed_dir), f"feed folder name {reason}"))
            return None
        try:
            settings = files.parse_feed_settings(self.feed_dir / "feed.toml")
        except FileNotFoundError:
            self.report.errors.append(BadPostFile(str(self.feed_dir / "feed.toml"), "missing"))
            return None
        except BadPostFile as error:
            self.report.errors.append(error)
            return None
        with self.core.transaction() as session:
            catalog.upsert(session, self.slug, settings, self.now)
            self.report.errors += media_folder.sync(
                session,
                self.slug,
                self.feed_dir / links.MEDIA_FOLDER,
                post_id=None,
                root=self.content_dir,
                now=self.now,
            )
            rows = session.execute(
                select(Post.source_path, Post.id, Post.source_size, Post.source_mtime_ns).where(
                    Post.feed_slug == self.slug,
                    Post.source == PostSource.FILE,
                    Post.deleted_at.is_(None),
                )
            )
            return {path: _Recorded(id_, (size, mtime)) for path, id_, size, mtime in rows if path}

    def _listing(self) -> Iterator[_Found]:
        """Every post file (posts/*.md, and a bundle's posts/<name>/index.md) in name order,
        with its stat; nothing is read."""
        folder = self.feed_dir / "posts"
        try:
            listed = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        prefix, where = f"{self.slug}/posts/", f"{folder}{os.sep}"
        bundle_text = f"{os.sep}{media_folder.BUNDLE_TEXT}"
        found = [n if n.endswith(".md") else n + bundle_text for n in listed]
        for name in found:
            if names.is_hidden(name) or not name.endswith(".md"):
                continue
            try:
                stat = os.stat(where + name)
            except OSError:
                continue  # gone since the listing: it counts as removed
            path = prefix + name.replace(os.sep, "/")
            if name.endswith(bundle_text):
                self.bundles.append(path)
            yield _Found(path, (stat.st_size, stat.st_mtime_ns))

    def _import_batch(self, batch: list[_Found]) -> None:
        """Read the batch's files, then apply what changed in one transaction."""
        read = [(found, raw) for found in batch if (raw := self._read(found)) is not None]
        with self.core.transaction() as session:
            owned = self._owned(session, [found.path for found, _raw in read])
            for found, raw in read:
                post = owned.get(found.path)
                if post is not None and post.source_hash == files.file_hash(raw):
                    self._record_stat(post, found.stat)  # touched, not changed
                    self.report.unchanged.append(found.path)
                    continue
                try:
                    parsed = files.parse_post(found.path, raw, self.core.timezone)
                    _check_attachments(self.content_dir / found.path, parsed)
                except BadPostFile as error:
                    self.report.errors.append(error)
                    continue
                self._apply(session, parsed, post, found.stat)

    def _read(self, found: _Found) -> bytes | None:
        try:
            return (self.content_dir / found.path).read_bytes()
        except OSError as exc:
            self.report.errors.append(BadPostFile(found.path, f"cannot read: {exc.strerror}"))
            return None

    def _owned(self, session: Session, paths: list[str]) -> dict[str, Post]:
        """The live posts these files already made, loaded in the batch's own session."""
        query = select(Post).where(
            Post.feed_slug == self.slug,
            Post.source == PostSource.FILE,
            Post.deleted_at.is_(None),
            Post.source_path.in_(paths),
        )
        return {post.source_path or "": post for post in session.scalars(query)}

    def _apply(
        self, session: Session, parsed: files.PostFile, post: Post | None, stat: tuple[int, int]
    ) -> None:
        """Create or update one file's post inside a savepoint, so a clash spoils only it."""
        origin = store.Origin(PostSource.FILE, parsed.path, parsed.content_hash)
        try:
            with session.begin_nested():
                post = post or self._renamed(session, parsed)
                if post is None:
                    post = store.create(session, self.slug, parsed.data, origin, self.now)
                    self.report.created.append(parsed.path)
                else:
                    store.update(session, post, parsed.data, origin, self.now)
                    self.report.updated.append(parsed.path)
                self._record_stat(post, stat)
        except (InvalidInput, SlugTaken) as error:
            reason = "; ".join(f"{key} {message}" for key, message in error.fields.items())
            self.report.errors.append(BadPostFile(parsed.path, reason))

    def _record_stat(self, post: Post, stat: tuple[int, int]) -> None:
        size, mtime_ns = stat
        post.source_size = size
        post.source_mtime_ns = None if mtime_ns > self.listed_at_ns - RACY_NS else mtime_ns

    def _renamed(self, session: Session, parsed: files.PostFile) -> Post | None:
        """The post a renamed file used to be, so its entry id survives the rename.

        An explicit `id` decides; otherwise a vanished file of the same feed with
        the same date (and only one such) is taken to be the same post.
        """
        if parsed.data.guid:
            holder = session.scalar(select(Post).where(Post.guid == parsed.data.guid))
            if holder is None:
                return None
            moved = holder.deleted_at is not None or holder.source_path in self.vanished
            if holder.feed_slug != self.slug or holder.source != PostSource.FILE or not moved:
                raise InvalidInput({"id": f"'{parsed.data.guid}' is already used by another post"})
            self.vanished.pop(holder.source_path or "", None)
            holder.deleted_at = None
            return holder
        if not self.vanished:
            return None
        same_date = [
            post
            for post in session.scalars(
                select(Post).where(
                    Post.feed_slug == self.slug,
                    Post.published_at == parsed.data.published_at,
                    Post.source == PostSource.FILE,
                    Post.deleted_at.is_(None),
                )
            )
            if post.source_path in self.vanished
        ]
        if len(same_date) != 1:
            return None
        self.vanished.pop(same_date[0].source_path or "", None)
        return same_date[0]

    def _sync_bundles(self) -> None:
        """Each bundle's files, beside its index.md, made the post's (changed or not)."""
        if not self.bundles:
            return
        with self.core.transaction() as session:
            rows = session.execute(
                select(Post.source_path, Post.id).where(
                    Post.feed_slug == self.slug,
                    Post.source == PostSource.FILE,
                    Post.deleted_at.is_(None),
                    Post.source_path.in_(self.bundles),
                )
            )
            ids = {path: post_id for path, post_id in rows}
            for path in self.bundles:
                if (post_id := ids.get(path)) is not None:
                    self.report.errors += media_folder.sync(
                        session,
                        self.slug,
                        (self.content_dir / path).parent,
                        post_id=post_id,
                        root=self.content_dir,
                        now=self.now,
                    )

    def _delete_vanished(self) -> None:
        """Tombstone the posts whose file is gone, a batch per transaction."""
        gone = sorted(self.vanished.items())
        for start in range(0, len(gone), self.batch):
            with self.core.transaction() as session:
                for path, known in gone[start : start + self.batch]:
                    post = session.get(Post, known.id)
                    if post is None or post.deleted_at is not None or post.source_path != path:
                        continue  # changed by someone else since the listing
                    store.delete(session, post, self.now)
                    self.report.deleted.append(path)


def _check_attachments(file: Path, parsed: files.PostFile) -> None:
    """Every attachment naming a file names one that is there (bundle or media folder)."""
    bundle = file.name == media_folder.BUNDLE_TEXT
    feed_dir = file.parent.parent.parent if bundle else file.parent.parent
    for item in parsed.data.attachments:
        place = links.served_name(item.href) if item.is_file else None
        if place is None:
            continue
        in_media, name = place
        where = feed_dir / links.MEDIA_FOLDER if in_media else file.parent
        if not (where / name).is_file():
            shown = f"{links.MEDIA_FOLDER}/{name}" if in_media else name
            raise BadPostFile(parsed.path, f"attachment {shown!r} not found")
