"""A folder of the content folder made the database's: feeds/<feed>/media/ or a post bundle.

A file whose size and modification time did not change is not read again;
a file gone from the folder is removed. Files uploaded through the API are
never touched; a folder file with an uploaded file's name is reported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from syndicator.errors import BadPostFile, Conflict
from syndicator.media import names, store
from syndicator.models import Media, PostSource

BUNDLE_TEXT = "index.md"


def sync(
    session: Session,
    feed_slug: str,
    folder: Path,
    *,
    post_id: int | None,
    root: Path,
    now: datetime,
) -> list[BadPostFile]:
    """Make the rows of one scope match `folder`; the problems, with paths relative to `root`."""
    existing = {row.name: row for row in store.of_scope(session, feed_slug, post_id)}
    seen: set[str] = set()
    problems: list[BadPostFile] = []
    for file in _files(folder, bundle=post_id is not None):
        name = file.relative_to(folder).as_posix()
        label = file.relative_to(root).as_posix()
        if len(name) > names.MAX_NAME:
            problems.append(BadPostFile(label, f"name longer than {names.MAX_NAME} characters"))
            continue
        row = existing.get(name)
        if row is not None and row.source != PostSource.FILE:
            problems.append(BadPostFile(label, "a file uploaded through the API has this name"))
            continue
        seen.add(name)
        try:
            _store(session, feed_slug, file, name, row, post_id, now)
        except OSError as exc:
            problems.append(BadPostFile(label, f"cannot read: {exc.strerror}"))
        except Conflict as clash:
            problems.append(BadPostFile(label, str(clash)))
    for name, row in existing.items():
        if row.source == PostSource.FILE and name not in seen:
            store.remove(session, row, now)
    return problems


def _files(folder: Path, *, bundle: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not names.is_hidden(path.relative_to(folder).as_posix())
        and not (bundle and path.relative_to(folder).as_posix() == BUNDLE_TEXT)
    )


def _store(
    session: Session,
    feed_slug: str,
    file: Path,
    name: str,
    row: Media | None,
    post_id: int | None,
    now: datetime,
) -> None:
    stat = file.stat()
    modified = datetime.fromtimestamp(int(stat.st_mtime), UTC)
    if row is not None and row.length == stat.st_size and row.modified_at == modified:
        return
    upload = store.Upload(name, file.read_bytes(), modified, PostSource.FILE, post_id)
    if row is None:
        store.add(session, feed_slug, upload, now)
    else:
        store.replace(session, row, upload, now)
