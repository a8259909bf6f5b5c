"""Static export: every page, feed and media file written as files that mirror the URL paths.

The files are fetched through the app itself, so they are byte-identical to
what the server sends and a CDN or static host can serve the whole blog.

A second export does only what changed. A manifest in the target folder
records, for the home page and for each feed, the stamp its files were
rendered at (the feed's version, when its next scheduled post comes due, and
the settings, templates and release that shape every page) and the files it
wrote. A feed whose stamp did not move is not fetched at all; a changed one
is fetched again, each file is rewritten only when its bytes differ, and the
files it no longer has (deleted posts, pages past the end) are removed.

A page costs what a cache hit costs plus its share of one render: each list
page is read once and its HTML, its feeds and its posts' pages are rendered
from that read into the render cache (`_render_ahead`) just before they are
fetched, and several processes may fetch at once (`jobs`). How it was
measured: bench/README.md, "Scale".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from flask import Flask
from flask.testing import FlaskClient

import syndicator
from syndicator import forking
from syndicator.core import Core
from syndicator.errors import ExportFailed, NotFound
from syndicator.feeds import catalog, documents, formats, serving, sitemap
from syndicator.feeds.cache import RenderCache
from syndicator.media import store as media
from syndicator.posts import store
from syndicator.web import access, pages, sitefiles

FEED_READER_ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.1"
# A feed.toml `icon` that is a URL makes /favicon.ico a redirect: pages link the URL itself.
_MAY_REDIRECT = {"/favicon.ico"}
MANIFEST = ".syndicator-export.json"
_TEMPLATES = Path(__file__).parent / "templates"
_HOME = "/"  # the home page's group in the manifest; feed slugs never start with "/"
log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    """What an export did: files written (new or changed), left as they were, removed."""

    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        """How many files the exported site has."""
        return len(self.written) + self.unchanged


@dataclass(frozen=True)
class _Group:
    """The files one feed (or the home page) wrote, and the stamp they were rendered at."""

    stamp: str
    files: tuple[str, ...]


def export(
    app: Flask, core: Core, target: Path, *, incremental: bool = True, jobs: int = 1
) -> ExportReport:
    """Write every URL the blog serves under `target`.

    `incremental` (the default) skips feeds that did not change since the last
    export into `target`; without it every page is fetched again (only files
    whose bytes differ are still rewritten). `jobs` above 1 fetches a feed's
    pages in that many processes forked from this one (see `_Run`).
    """
    report = ExportReport()
    site = _site_stamp(core)
    previous = _load_manifest(target, site) if incremental else {}
    stamps = _stamps(core)
    groups: dict[str, _Group] = {}
    with _small_render_cache(core), _no_access_log(), _Run(app, core, target, report, jobs) as run:
        for name, stamp in stamps.items():
            before = previous.pop(name, None)
            if before is not None and before.stamp == stamp:
                groups[name] = before
                report.unchanged += len(before.files)
                continue
            files = run.fetch_all(_group_batches(core, name))
            run.remove(set(before.files if before else ()) - set(files))
            groups[name] = _Group(stamp, files)
            _save_manifest(target, site, {**previous, **groups})
        for gone in previous.values():  # feeds that no longer exist
            run.remove(set(gone.files))
    _save_manifest(target, site, groups)
    return report


@contextmanager
def _no_access_log() -> Iterator[None]:
    """Fetching the site is nobody's visit: no access-log line for each page (forked
    workers inherit the setting)."""
    before = access.access_log.level
    access.access_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        access.access_log.setLevel(before)


@contextmanager
def _small_render_cache(core: Core) -> Iterator[None]:
    """While it runs, the export (and each worker, forked meanwhile) caches a few batches'
    documents rather than the server's 1,024: it fetches each right after rendering it
    ahead and never again, and 1,024 feed documents are about 70 MB."""
    kept = core.cache
    core.cache = RenderCache(max(64, 2 * (core.config.feeds.items + len(formats.FILENAMES) + 1)))
    try:
        yield
    finally:
        core.cache = kept


@dataclass(frozen=True)
class _Batch:
    """URLs fetched one after the other. `ahead` names a list page (feed, tag, number) whose
    documents are rendered ahead from one read first, so that its requests find them cached."""

    paths: tuple[str, ...]
    ahead: tuple[str, str | None, int] | None = None


# A file fetched: its name relative to the target, and whether its bytes were (re)written.
_Fetched = tuple[str, bool]


class _Pages:
    """Fetches batches through the app and writes the files whose bytes changed: in the
    exporting process, or in each worker of a parallel export."""

    def __init__(self, app: Flask, core: Core, target: Path) -> None:
        self.app, self.core, self.target = app, core, target
        self.client: FlaskClient = app.test_client()

    def fetch_batch(self, batch: _Batch) -> list[_Fetched]:
        if batch.ahead is not None:
            _render_ahead(self.app, self.core, *batch.ahead)
        return [fetched for path in batch.paths if (fetched := self.fetch(path)) is not None]

    def fetch(self, path: str) -> _Fetched | None:
        """Fetch one URL and write its file if its bytes changed (None for a redirect,
        which has no file)."""
        response = self.client.get(path, headers={"Accept": FEED_READER_ACCEPT})
        if response.status_code == 302 and path in _MAY_REDIRECT:
            return None
        if response.status_code != 200:
            raise ExportFailed(f"{path} answered {response.status_code} during export")
        relative = unquote(path.lstrip("/"))  # a static host decodes the URL to find the file
        if path.endswith("/"):
            relative += "index.html"
        file = self.target / relative
        body = response.get_data()
        if _same_bytes(file, body):
            return relative, False
        _write_atomically(file, body)
        return relative, True


class _Run:
    """Fetches pages through the app and keeps the target folder and the report in step.

    With `jobs` above 1, batches go in chunks to a pool of processes forked from this
    one: each has the app and core as they were (its own database connections, its own
    render cache) and answers with the files it fetched; their answers are taken in
    order, so the report and manifest are those of a serial run. A worker's error is
    raised here; a worker that dies stops the export with ExportFailed. While other
    threads run (not in the CLI) nothing is forked.
    """

    def __init__(self, app: Flask, core: Core, target: Path, report: ExportReport, jobs: int):
        self.target, self.report = target, report
        self.pages = _Pages(app, core, target)
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1 and not forking.fork_is_safe():
            log.warning("other threads are running: the export stays in this one process")
        elif jobs > 1:
            global _WORKER_PAGES
            _WORKER_PAGES = self.pages  # what each forked worker starts from
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(jobs, context, initializer=_start_worker)

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def fetch_all(self, batches: Iterator[_Batch]) -> tuple[str, ...]:
        names: list[str] = []
        for relative, written in self._fetched(batches):
            if written:
                self.report.written.append(self.target / relative)
            else:
                self.report.unchanged += 1
            names.append(relative)
        return tuple(names)

    def _fetched(self, batches: Iterator[_Batch]) -> Iterator[_Fetched]:
        if self.pool is None:
            for batch in batches:
                yield from self.pages.fetch_batch(batch)
            return
        try:
            for chunk in self.pool.map(_fetch_in_worker, _chunks(batches)):
                yield from chunk
        except BrokenProcessPool as error:
            raise ExportFailed(f"an export worker stopped before it was done ({error})") from None

    def remove(self, relatives: set[str]) -> None:
        for relative in sorted(relatives):
            file = self.target / relative
            file.unlink(missing_ok=True)
            self.report.removed.append(file)
            _remove_empty_parents(file.parent, self.target)


_WORKER_PAGES: _Pages | None = None
_CHUNK_PATHS = 50  # about how many URLs a worker is given at a time


def _start_worker() -> None:
    """In a forked worker: connections are not to be shared with the parent, so this
    process opens its own (SQLAlchemy's advice for a fork)."""
    assert _WORKER_PAGES is not None
    _WORKER_PAGES.core.engine.dispose(close=False)


def _fetch_in_worker(batches: list[_Batch]) -> list[_Fetched]:
    assert _WORKER_PAGES is not None
    return [fetched for batch in batches for fetched in _WORKER_PAGES.fetch_batch(batch)]


def _chunks(batches: Iterator[_Batch]) -> Iterator[list[_Batch]]:
    """Whole batches (a list page's documents are rendered together) of about
    `_CHUNK_PATHS` URLs each."""
    chunk: list[_Batch] = []
    for batch in batches:
        chunk.append(batch)
        if sum(len(each.paths) for each in chunk) >= _CHUNK_PATHS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _same_bytes(file: Path, body: bytes) -> bool:
    try:
        return file.stat().st_size == len(body) and file.read_bytes() == body
    except OSError:
        return False


def _write_atomically(file: Path, body: bytes) -> None:
    """A host serving the folder meanwhile sees the old file or the new one, never half."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.partial")
    temporary.write_bytes(body)
    os.replace(temporary, file)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty
            return
        folder = folder.parent


def _stamps(core: Core) -> dict[str, str]:
    """Each group's stamp: what its pages depend on, read before any page is fetched."""
    now = core.now()
    with core.reading() as session:
        feeds = {
            feed.slug: f"{feed.version}|{feed.changed_at.isoformat()}|"
            f"{_isoformat(store.next_due(session, feed.slug, now))}"
            for feed in catalog.all_feeds(session)
        }
    home = hashlib.sha256(json.dumps(feeds, sort_keys=True).encode()).hexdigest()
    return {_HOME: home, **feeds}


def _isoformat(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def _site_stamp(core: Core) -> str:
    """The settings, templates and release every page depends on.

    The settings as JSON with sets sorted: a set's repr follows the process's string
    hashing, so the same config would void the manifest in every other run.
    """
    settings = json.dumps(dataclasses.asdict(core.config), sort_keys=True, default=_sorted)
    digest = hashlib.sha256(f"{syndicator.__version__}|{settings}".encode())
    for template in sorted(_TEMPLATES.iterdir()):
        digest.update(template.name.encode() + b"\0" + template.read_bytes())
    return digest.hexdigest()


def _sorted(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def _render_ahead(app: Flask, core: Core, feed: str, tag: str | None, number: int) -> None:
    """Render one list page, its feed documents and, on the feed's own pages, its posts'
    pages from one read, and cache them at the version read before it.

    A request for each would read the listing once per format and each post on its
    own; these are the renderers those requests use (`pages`, `serving`), given what
    was read once. What is not found here (a write raced the site map) the requests
    themselves answer.
    """
    version = core.versions.version(feed)
    if version is None:
        return
    now = core.now()
    with app.app_context(), core.reading() as session:
        try:
            found = documents.listing(
                session, feed, tag=tag, number=number, per_page=core.config.feeds.items, now=now
            )
        except NotFound:
            return
        made = {pages.listing_key(feed, tag, number): pages.listing_made(core, found)}
        for fmt in formats.FILENAMES:
            made[serving.feed_key(found, fmt)] = serving.feed_made(core, found, fmt)
        for post in found.page.posts if tag is None else ():
            made[pages.post_key(feed, post.slug)] = pages.post_made(
                core, found.feed, post, found.files
            )
    for key, document in made.items():
        serving.keep(core, key, version, document)


def _group_batches(core: Core, name: str) -> Iterator[_Batch]:
    """The home page group has the site files too: they list every feed."""
    if name == _HOME:
        return iter([_Batch((_HOME, *sitefiles.paths(core)))])
    return _feed_batches(core, name)


def _feed_batches(core: Core, feed: str) -> Iterator[_Batch]:
    """Every URL of one feed: each list page (all posts, then per tag) with its feeds and,
    on the feed's own pages, the pages of the posts it lists; then its media files."""
    urls, per_page = core.urls, core.config.feeds.items
    with core.reading() as session:
        maps = sitemap.walk(session, per_page=per_page, now=core.now())
        files = media.served(session, feed, core.now())
    for site in maps:
        if site.feed.slug != feed:
            continue
        for page in site.listings:
            paths = [urls.listing_path(feed, page.tag, page.number)]
            paths += (urls.feed_path(feed, fmt, page.tag, page.number) for fmt in formats.FILENAMES)
            if page.tag is None:
                listed = site.posts[(page.number - 1) * per_page : page.number * per_page]
                paths += (urls.post_path(feed, post_slug) for post_slug, _updated in listed)
            yield _Batch(tuple(paths), (feed, page.tag, page.number))
    yield _Batch(
        tuple(
            urls.media_path(feed, name)
            if owner is None
            else urls.bundle_file_path(feed, owner, name)
            for owner, name in files
        )
    )


def _load_manifest(target: Path, site: str) -> dict[str, _Group]:
    """The last export's groups, or none when it was made with other settings or is unreadable."""
    try:
        saved = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        if saved.get("site") != site:
            return {}
        return {
            name: _Group(group["stamp"], tuple(group["files"]))
            for name, group in saved["groups"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _save_manifest(target: Path, site: str, groups: dict[str, _Group]) -> None:
    manifest = {
        "site": site,
        "groups": {name: {"stamp": g.stamp, "files": list(g.files)} for name, g in groups.items()},
    }
    _write_atomically(target / MANIFEST, json.dumps(manifest).encode())
