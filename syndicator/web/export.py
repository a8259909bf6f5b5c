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
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from flask import Flask
from flask.testing import FlaskClient

import syndicator
from syndicator.core import Core
from syndicator.feeds import catalog, formats, sitemap
from syndicator.media import store as media
from syndicator.posts import store

FEED_READER_ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.1"
SITE_FILES = ("/feeds.opml", "/sitemap.xml", "/robots.txt", "/favicon.ico")
# A feed.toml `icon` that is a URL makes /favicon.ico a redirect: pages link the URL itself.
_MAY_REDIRECT = {"/favicon.ico"}
MANIFEST = ".syndicator-export.json"
_TEMPLATES = Path(__file__).parent / "templates"
_HOME = "/"  # the home page's group in the manifest; feed slugs never start with "/"


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


def export(app: Flask, core: Core, target: Path, *, incremental: bool = True) -> ExportReport:
    """Write every URL the blog serves under `target`.

    `incremental` (the default) skips feeds that did not change since the last
    export into `target`; without it every page is fetched again (only files
    whose bytes differ are still rewritten).
    """
    report = ExportReport()
    site = _site_stamp(core)
    previous = _load_manifest(target, site) if incremental else {}
    stamps = _stamps(core)
    groups: dict[str, _Group] = {}
    run = _Run(app.test_client(), target, report)
    for name, stamp in stamps.items():
        before = previous.pop(name, None)
        if before is not None and before.stamp == stamp:
            groups[name] = before
            report.unchanged += len(before.files)
            continue
        files = run.fetch_all(_group_paths(core, name))
        run.remove(set(before.files if before else ()) - set(files))
        groups[name] = _Group(stamp, files)
        _save_manifest(target, site, {**previous, **groups})
    for gone in previous.values():  # feeds that no longer exist
        run.remove(set(gone.files))
    _save_manifest(target, site, groups)
    return report


class _Run:
    """Fetches pages through the app and keeps the target folder in step."""

    def __init__(self, client: FlaskClient, target: Path, report: ExportReport) -> None:
        self.client, self.target, self.report = client, target, report

    def fetch_all(self, paths: Iterator[str]) -> tuple[str, ...]:
        return tuple(name for path in paths if (name := self.fetch(path)) is not None)

    def fetch(self, path: str) -> str | None:
        """Fetch one URL and write its file if its bytes changed; the file's relative name
        (None for a redirect, which has no file)."""
        response = self.client.get(path, headers={"Accept": FEED_READER_ACCEPT})
        if response.status_code == 302 and path in _MAY_REDIRECT:
            return None
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code} during export")
        relative = unquote(path.lstrip("/"))  # a static host decodes the URL to find the file
        if path.endswith("/"):
            relative += "index.html"
        file = self.target / relative
        body = response.get_data()
        if _same_bytes(file, body):
            self.report.unchanged += 1
        else:
            _write_atomically(file, body)
            self.report.written.append(file)
        return relative

    def remove(self, relatives: set[str]) -> None:
        for relative in sorted(relatives):
            file = self.target / relative
            file.unlink(missing_ok=True)
            self.report.removed.append(file)
            _remove_empty_parents(file.parent, self.target)


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
    """The settings, templates and release every page depends on."""
    digest = hashlib.sha256(f"{syndicator.__version__}|{core.config!r}".encode())
    for template in sorted(_TEMPLATES.iterdir()):
        digest.update(template.name.encode() + b"\0" + template.read_bytes())
    return digest.hexdigest()


def _group_paths(core: Core, name: str) -> Iterator[str]:
    """The home page group has the site files too: they list every feed."""
    return iter([_HOME, *SITE_FILES]) if name == _HOME else _feed_paths(core, name)


def _feed_paths(core: Core, feed: str) -> Iterator[str]:
    """Every URL of one feed: listings (all, and per tag) in each format, then posts."""
    urls = core.urls
    with core.reading() as session:
        maps = sitemap.walk(session, per_page=core.config.feeds.items, now=core.now())
        files = media.served(session, feed, core.now())
    for site in maps:
        if site.feed.slug != feed:
            continue
        for page in site.listings:
            yield urls.listing_path(feed, page.tag, page.number)
            for fmt in formats.FILENAMES:
                yield urls.feed_path(feed, fmt, page.tag, page.number)
        for post_slug, _updated in site.posts:
            yield urls.post_path(feed, post_slug)
    for owner, name in files:
        if owner is None:
            yield urls.media_path(feed, name)
        else:
            yield urls.bundle_file_path(feed, owner, name)


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
