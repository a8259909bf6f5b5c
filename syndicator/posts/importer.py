"""Makes the database match the content folder.

A bad file is reported and left alone (its last good version stays
published); every other file still imports. Importing twice changes nothing.

The work follows what changed, not the size of the blog: a file whose size
and modification time match what the last import recorded is not opened; one
whose stat moved is hashed, and parsed only when its bytes changed. Changed
files are applied in batches of their own transactions, so memory stays
bounded and writers from the API take their turn between batches. Reading,
parsing and rendering a file needs no database: for a large import, worker
processes do it for the next batch while this one is written, and the new
posts of a batch are inserted together.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from syndicator import db, forking, slugs
from syndicator.core import Core
from syndicator.errors import BadPostFile, InvalidInput, SlugTaken
from syndicator.feeds import catalog
from syndicator.media import folder as media_folder
from syndicator.media import links, names
from syndicator.models import Post, PostSource
from syndicator.posts import files, store

_IMPORT_LOCK = 0x5359_4E44  # "SYND"
_LOCK_KEYS = ":key, hashtext(current_schema())"  # one lock per schema
BATCH = 200  # changed files per transaction
# Worker processes pay for themselves from this many changed files on (with two or more
# cores): a first import of a large blog, not the odd edit.
PARALLEL_FROM = 1000
# From this many posts written on, and whenever the rows written doubled the feed's
# since, the planner's statistics are taken again (PostgreSQL).
STATISTICS_FROM = 1000
_WRITTEN = ("posts", "post_tags", "listing_counts")
_CHUNK = 25  # files per worker task: fewer round trips, yet every worker kept busy
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


class _Prepared(NamedTuple):
    """A changed file read, parsed and cleaned: what it needs no database for."""

    found: _Found
    content_hash: str | None  # None when it could not be read
    parsed: files.PostFile | None  # None when it is bad: `problem` says why
    problem: str = ""


def sync(
    core: Core, content_dir: Path, *, batch: int = BATCH, parallel_from: int = PARALLEL_FROM
) -> SyncReport:
    """Import the folder; one import at a time across processes on PostgreSQL."""
    report = SyncReport()
    with _one_import_at_a_time(core), _Preparer(content_dir, core.timezone) as preparer:
        if not content_dir.is_dir():
            report.errors.append(BadPostFile(str(content_dir), "content folder not found"))
            return report
        for feed_dir in sorted(path for path in content_dir.iterdir() if path.is_dir()):
            if not feed_dir.name.startswith("."):
                run = _FeedImport(core, feed_dir, content_dir, report, batch)
                run.run(preparer, parallel_from)
    return report


@contextmanager
def _one_import_at_a_time(core: Core) -> Iterator[None]:
    """Several web processes may start at once: the later ones wait, then find nothing new.

    On SQLite each batch's transaction already takes the one write lock. The lock is
    the schema's: installations in other schemas of the database import meanwhile.
    """
    if core.engine.dialect.name != "postgresql":
        yield
        return
    with core.engine.connect() as connection:
        connection.execute(text(f"SELECT pg_advisory_lock({_LOCK_KEYS})"), {"key": _IMPORT_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(
                text(f"SELECT pg_advisory_unlock({_LOCK_KEYS})"), {"key": _IMPORT_LOCK}
            )
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

    def run(self, preparer: _Preparer, parallel_from: int) -> None:
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
        batches = [changed[at : at + self.batch] for at in range(0, len(changed), self.batch)]
        # The feed's rows as the planner last counted them, and as written since (a
        # rewritten row counts again: it too leaves the statistics behind).
        rows, planned_at = len(recorded), max(len(recorded), STATISTICS_FROM // 2)
        for prepared in preparer.prepare(batches, parallel=len(changed) >= parallel_from):
            self._import_batch(prepared)
            rows += len(prepared)
            if rows >= 2 * planned_at:
                db.refresh_statistics(self.core.engine, _WRITTEN)
                planned_at = rows
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
                select(Post.source_path, Post.id, Post.source_size, Post.source_mtime_ns)
                .where(
                    Post.feed_slug == self.slug,
                    Post.source == PostSource.FILE,
                    Post.deleted_at.is_(None),
                )
                .execution_options(yield_per=10_000)  # never the whole result in memory at once
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

    def _import_batch(self, batch: list[_Prepared]) -> None:
        """Apply what changed in one transaction; the batch's new posts are inserted together."""
        with self.core.transaction() as session:
            owned = self._owned(session, [item.found.path for item in batch])
            fresh: list[_Prepared] = []
            for item in batch:
                post = owned.get(item.found.path)
                if post is not None and post.source_hash == item.content_hash:
                    self._record_stat(post, item.found.stat)  # touched, not changed
                    self.report.unchanged.append(item.found.path)
                elif item.parsed is None:
                    self.report.errors.append(BadPostFile(item.found.path, item.problem))
                elif post is None and not item.parsed.data.guid and not self.vanished:
                    fresh.append(item)  # nothing in the database can claim it
                else:
                    self._apply(session, item, post)
            self._create_fresh(session, fresh)

    def _owned(self, session: Session, paths: list[str]) -> dict[str, Post]:
        """The live posts these files already made, loaded in the batch's own session."""
        query = select(Post).where(
            Post.feed_slug == self.slug,
            Post.source == PostSource.FILE,
            Post.deleted_at.is_(None),
            Post.source_path.in_(paths),
        )
        return {post.source_path or "": post for post in session.scalars(query)}

    def _origin(self, item: _Prepared) -> store.Origin:
        assert item.parsed is not None
        size, mtime_ns = item.found.stat
        path, content_hash = item.parsed.path, item.parsed.content_hash
        return store.Origin(PostSource.FILE, path, content_hash, size, self._trusted(mtime_ns))

    def _create_fresh(self, session: Session, fresh: list[_Prepared]) -> None:
        """New files whose slug and id are free, in one insert; a clash goes one at a time."""
        if not fresh:
            return
        items = [(item.parsed.data, self._origin(item)) for item in fresh if item.parsed]
        created, left = store.create_new(session, self.slug, items, self.now)
        self.report.created += [origin.path or "" for origin in created]
        by_path = {item.found.path: item for item in fresh}
        for _data, origin in left:
            self._apply(session, by_path[origin.path or ""], None)

    def _apply(self, session: Session, item: _Prepared, post: Post | None) -> None:
        """Create or update one file's post inside a savepoint, so a clash spoils only it."""
        parsed = item.parsed
        assert parsed is not None
        origin = self._origin(item)
        try:
            with session.begin_nested():
                post = post or self._renamed(session, parsed)
                if post is None:
                    post = store.create(session, self.slug, parsed.data, origin, self.now)
                    self.report.created.append(parsed.path)
                else:
                    store.update(session, post, parsed.data, origin, self.now)
                    self.report.updated.append(parsed.path)
        except (InvalidInput, SlugTaken) as error:
            self.report.errors.append(BadPostFile(parsed.path, _reason(error)))

    def _record_stat(self, post: Post, stat: tuple[int, int]) -> None:
        post.source_size, post.source_mtime_ns = stat[0], self._trusted(stat[1])

    def _trusted(self, mtime_ns: int) -> int | None:
        """A file modified just before the listing may change again unseen: no mtime kept."""
        return None if mtime_ns > self.listed_at_ns - RACY_NS else mtime_ns

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


class _Preparer:
    """Reads, parses and renders changed files: in worker processes for a large import,
    a batch ahead of the one being written; in this process otherwise."""

    def __init__(self, content_dir: Path, timezone: ZoneInfo) -> None:
        self.content_dir, self.timezone = content_dir, timezone
        self.workers = forking.usable_cpus()
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Preparer:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def prepare(self, batches: list[list[_Found]], *, parallel: bool) -> Iterator[list[_Prepared]]:
        if not parallel or self.workers < 2:
            for batch in batches:
                yield _prepare_all(self.content_dir, batch, self.timezone)
            return
        pool = self._pool()
        ahead: deque[list[Future[list[_Prepared]]]] = deque()
        waiting = deque(batches)
        while waiting or ahead:
            while waiting and len(ahead) < 2:  # the batch being written, and the next
                ahead.append(self._submit(pool, waiting.popleft()))
            yield [item for future in ahead.popleft() for item in future.result()]

    def _submit(
        self, pool: ProcessPoolExecutor, batch: list[_Found]
    ) -> list[Future[list[_Prepared]]]:
        chunks = [batch[at : at + _CHUNK] for at in range(0, len(batch), _CHUNK)]
        where, timezone = self.content_dir, self.timezone
        return [pool.submit(_prepare_all, where, chunk, timezone) for chunk in chunks]

    def _pool(self) -> ProcessPoolExecutor:
        """Workers forked from this process when that is safe (the cheapest start),
        started afresh otherwise."""
        if self.pool is None:
            how = "fork" if forking.fork_is_safe() else "spawn"
            context = multiprocessing.get_context(how)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self.pool


def _prepare_all(content_dir: Path, batch: Sequence[_Found], timezone: ZoneInfo) -> list[_Prepared]:
    return [_prepare(content_dir, found, timezone) for found in batch]


def _prepare(content_dir: Path, found: _Found, timezone: ZoneInfo) -> _Prepared:
    """Read, parse and clean one file; what is wrong with it, if anything."""
    try:
        raw = (content_dir / found.path).read_bytes()
    except OSError as exc:
        return _Prepared(found, None, None, f"cannot read: {exc.strerror}")
    try:
        parsed = files.parse_post(found.path, raw, timezone)
        _check_attachments(content_dir / found.path, parsed)
        return _Prepared(found, parsed.content_hash, replace(parsed, data=store.clean(parsed.data)))
    except BadPostFile as error:
        return _Prepared(found, files.file_hash(raw), None, error.reason)
    except InvalidInput as error:
        return _Prepared(found, files.file_hash(raw), None, _reason(error))


def _reason(error: InvalidInput | SlugTaken) -> str:
    return "; ".join(f"{key} {message}" for key, message in error.fields.items())


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
