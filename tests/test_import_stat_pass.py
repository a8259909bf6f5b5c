"""An import reads only the files whose size or modification time moved.

Files are given modification times in the past (`settle`): the importer does
not trust the stat of a file modified in the last seconds, which may still
change within the same mtime tick.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from factories import import_folder
from sqlalchemy import select

from syndicator.models import Feed, Post
from syndicator.posts import importer, store

HOUR_NS = 3600 * 10**9


def settle(path: Path, hours_ago: int = 1) -> int:
    """Give the file an mtime in the past, as a file that has not been touched lately has."""
    mtime = os.stat(path).st_mtime_ns - hours_ago * HOUR_NS
    os.utime(path, ns=(mtime, mtime))
    return mtime


def same_size_swap(path: Path, new: bytes) -> None:
    """Replace the bytes without moving size or mtime: only a read could notice."""
    stat = os.stat(path)
    assert len(new) == stat.st_size
    path.write_bytes(new)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def feed_version(core: Any) -> int:
    with core.reading() as session:
        feed = session.get(Feed, "news")
        assert feed is not None
        return feed.version


def test_a_file_whose_stat_did_not_move_is_not_read_again(core, blog, sync):
    path = blog.post("first", "Kept text.")
    settle(path)
    sync()
    # Broken bytes behind an unchanged stat: an import that read the file would report it.
    same_size_swap(path, b"\xff" * os.stat(path).st_size)
    report = sync()
    assert report.errors == []
    assert report.unchanged == ["news/posts/first.md"]


def test_changed_added_and_removed_files_after_a_stat_pass(core, blog, sync, clock):
    for name in ("kept", "edited", "removed"):
        settle(blog.post(name))
    sync()
    names = ["news/posts/edited.md", "news/posts/kept.md", "news/posts/removed.md"]
    assert sync().unchanged == names

    clock.advance(hours=1)
    blog.post("edited", "A longer text than before.")
    blog.post("added", "New.", date="2026-02-01T09:00:00Z")  # not a rename of "removed"
    (blog.root / "news" / "posts" / "removed.md").unlink()
    report = sync()
    assert report.updated == ["news/posts/edited.md"]
    assert report.created == ["news/posts/added.md"]
    assert report.deleted == ["news/posts/removed.md"]
    assert report.unchanged == ["news/posts/kept.md"]
    with core.reading() as session:
        posts = {post.slug: post for post in session.scalars(select(Post))}
    assert "A longer text than before." in posts["edited"].content_html
    assert posts["removed"].deleted_at == clock()


def test_a_new_mtime_with_the_same_bytes_changes_nothing_readers_see(core, blog, sync, clock):
    path = blog.post("first", "Same text.")
    settle(path, hours_ago=2)
    sync()
    version = feed_version(core)
    with core.reading() as session:
        updated_at = session.scalars(select(Post.updated_at)).one()

    clock.advance(hours=1)
    settle(path, hours_ago=1)  # touched: an hour newer than before, bytes unchanged
    report = sync()
    assert report.unchanged == ["news/posts/first.md"] and report.updated == []
    assert feed_version(core) == version
    with core.reading() as session:
        assert session.scalars(select(Post.updated_at)).one() == updated_at
    # The new stat was recorded: the next import trusts it and does not read the file.
    same_size_swap(path, b"\xff" * os.stat(path).st_size)
    assert sync().errors == []


def test_a_same_size_edit_with_a_new_mtime_is_imported(core, blog, sync, clock):
    path = blog.post("first", "Version one.")
    settle(path, hours_ago=2)
    sync()
    clock.advance(hours=1)
    size = os.stat(path).st_size
    blog.post("first", "Version two.")
    assert os.stat(path).st_size == size
    settle(path, hours_ago=1)
    report = sync()
    assert report.updated == ["news/posts/first.md"]
    with core.reading() as session:
        assert "Version two." in session.scalars(select(Post.content_html)).one()


def test_a_file_modified_moments_ago_is_read_again_next_time(core, blog, sync):
    """Its mtime may not move on a second same-size save within the same tick."""
    path = blog.post("first", "Version one.")
    sync()
    same_size_swap(path, path.read_bytes().replace(b"one", b"two"))
    assert sync().updated == ["news/posts/first.md"]


def test_a_bad_file_is_reported_on_every_import(core, blog, sync):
    settle(blog.raw("broken", b"no front matter here\n"))
    assert [error.path for error in sync().errors] == ["news/posts/broken.md"]
    assert [error.path for error in sync().errors] == ["news/posts/broken.md"]


def test_an_import_in_batches_lets_api_writes_through(core, blog, make_feed):
    """Writers from the API take their turn between batches instead of waiting for the
    whole import (on SQLite there is one write lock)."""
    for number in range(60):
        blog.post(f"file-{number:02d}", date=f"2026-01-01T09:{number:02d}:00Z")
    imported = threading.Event()
    api_ids: list[int] = []

    def api_writer() -> None:
        number = 0
        while not imported.is_set():
            data = store.PostData(title=f"From the API {number}", published_at=core.now())
            with core.transaction() as session:
                api_ids.append(store.create(session, "news", data, store.Origin(), core.now()).id)
            number += 1

    make_feed("news")
    writer = threading.Thread(target=api_writer)
    writer.start()
    try:
        report = importer.sync(core, blog.root, batch=5)
    finally:
        imported.set()
        writer.join()
    assert len(report.created) == 60 and report.errors == []
    with core.reading() as session:
        file_ids = sorted(session.scalars(select(Post.id).where(Post.source == "file")))
        assert session.scalar(select(Post.id).where(Post.source == "api").limit(1)) is not None
    assert any(file_ids[0] < api_id < file_ids[-1] for api_id in api_ids)
    again = import_folder(core, blog.root)
    assert again.created == again.updated == again.deleted == []
