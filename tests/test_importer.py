"""Importing the content folder, on SQLite and PostgreSQL."""

import shutil
import threading
from pathlib import Path

from factories import build_core
from sqlalchemy import select

from syndicator import config as config_module
from syndicator.models import Feed, Post
from syndicator.posts import importer

DATA = Path(__file__).parent / "data" / "posts"


def stored(core, slug: str = "news") -> dict[str, Post]:
    with core.reading() as session:
        rows = session.scalars(select(Post).where(Post.feed_slug == slug))
        return {post.slug: post for post in rows}


def test_new_files_create_posts_and_a_second_import_changes_nothing(core, blog, sync, clock):
    blog.post("first", "One.", tags=["Alpha"])
    blog.post("second", "Two.")
    report = sync()
    assert sorted(report.created) == ["news/posts/first.md", "news/posts/second.md"]
    before = stored(core)
    with core.reading() as session:
        version_before = session.get(Feed, "news").version

    clock.advance(hours=1)
    again = sync()
    assert again.created == again.updated == again.deleted == []
    assert len(again.unchanged) == 2
    after = stored(core)
    assert {s: (p.guid, p.updated_at) for s, p in after.items()} == {
        s: (p.guid, p.updated_at) for s, p in before.items()
    }
    with core.reading() as session:
        assert session.get(Feed, "news").version == version_before


def test_edited_file_moves_updated_and_keeps_the_entry_id(core, blog, sync, clock):
    blog.post("first", "Version one.")
    sync()
    original = stored(core)["first"]
    clock.advance(hours=2)
    blog.post("first", "Version two.")
    report = sync()
    assert report.updated == ["news/posts/first.md"]
    edited = stored(core)["first"]
    assert edited.guid == original.guid
    assert edited.updated_at == clock()
    assert "Version two." in edited.content_html


def test_removed_file_deletes_the_post(core, blog, sync, clock):
    path = blog.post("first")
    sync()
    path.unlink()
    report = sync()
    assert report.deleted == ["news/posts/first.md"]
    assert stored(core)["first"].deleted_at == clock()


def test_renamed_file_keeps_its_entry_id(core, blog, sync):
    old = blog.post("2026-01-01-old-name", title="Same Post", date="2026-01-01T09:00:00Z")
    sync()
    guid = stored(core)["old-name"].guid
    old.rename(old.with_name("2026-01-01-new-name.md"))
    report = sync()
    assert report.deleted == []
    assert stored(core)["new-name"].guid == guid


def test_explicit_id_survives_a_rename_and_date_change(core, blog, sync):
    old = blog.post("a", id="tag:example.com,2026:a", date="2026-01-01T09:00:00Z")
    sync()
    old.unlink()
    blog.post("b", id="tag:example.com,2026:a", date="2026-01-05T09:00:00Z")
    sync()
    live = {slug: post for slug, post in stored(core).items() if post.deleted_at is None}
    assert list(live) == ["b"]
    assert live["b"].guid == "tag:example.com,2026:a"


def test_bad_files_are_reported_and_every_good_file_still_imports(core, blog, sync):
    for name in ("bad-yaml.md", "no-title.md", "not-utf8.md", "good.md", "bad-date.md"):
        shutil.copy(DATA / name, blog.feed("news") / "posts" / name)
    report = sync()
    assert report.created == ["news/posts/good.md"]
    assert sorted(error.path for error in report.errors) == [
        "news/posts/bad-date.md",
        "news/posts/bad-yaml.md",
        "news/posts/no-title.md",
        "news/posts/not-utf8.md",
    ]
    assert "good" in stored(core)


def test_a_file_broken_by_an_edit_keeps_its_last_good_version(core, blog, sync):
    path = blog.post("first", "Good text.")
    sync()
    path.write_bytes(b"---\ntitle: [unclosed\n---\n")
    report = sync()
    assert [error.path for error in report.errors] == ["news/posts/first.md"]
    post = stored(core)["first"]
    assert post.deleted_at is None
    assert "Good text." in post.content_html


def test_control_characters_are_removed_from_every_field(core, blog, sync):
    shutil.copy(DATA / "control-chars.md", blog.feed("news") / "posts" / "control-chars.md")
    report = sync()
    assert not report.errors
    post = stored(core)["control-chars"]
    for text in (post.title, post.summary, post.content_html, post.content_source):
        assert not any(ord(char) < 32 and char not in "\t\n\r" for char in text)
    assert post.title == "Bell and escape in title"


def test_slug_clash_between_two_files_reports_the_second(core, blog, sync):
    blog.post("one", slug="same")
    blog.post("two", slug="same", date="2026-01-02T00:00:00Z")
    report = sync()
    assert report.created == ["news/posts/one.md"]
    assert [error.path for error in report.errors] == ["news/posts/two.md"]
    assert "already used" in report.errors[0].reason


def test_feed_settings_changes_update_the_feed(core, blog, sync):
    blog.feed("news", title="Old title")
    sync()
    blog.feed("news", title="New title", language="en-GB")
    sync()
    with core.reading() as session:
        feed = session.get(Feed, "news")
    assert (feed.title, feed.language) == ("New title", "en-GB")


def test_missing_feed_toml_is_an_error_and_keeps_existing_posts(core, blog, sync):
    blog.post("first")
    sync()
    (blog.root / "news" / "feed.toml").unlink()
    report = sync()
    assert [error.path for error in report.errors] == [str(blog.root / "news" / "feed.toml")]
    assert stored(core)["first"].deleted_at is None


def test_api_posts_are_never_touched_by_an_import(core, blog, sync, make_post):
    blog.feed("news")
    sync()
    make_post("From the API")
    report = sync()
    assert report.deleted == []
    assert stored(core)["from-the-api"].deleted_at is None


def test_imports_take_turns_in_one_schema_but_not_across_schemas(
    postgres_url, other_postgres_url, blog, clock, tmp_path
):
    """Two web processes starting at once import one after the other; a second
    installation in another schema of the same database is not held up."""
    blog.post("first")

    def core_on(url):
        mapping = {"storage": {"database_url": url, "content_dir": str(blog.root)}}
        config = config_module.from_mapping(mapping, source="test", base_dir=tmp_path, env={})
        return build_core(config, clock)

    holder, same, other = core_on(postgres_url), core_on(postgres_url), core_on(other_postgres_url)
    reports: dict[str, importer.SyncReport] = {}

    def run(name, core):
        reports[name] = importer.sync(core, blog.root)

    try:
        with importer._one_import_at_a_time(holder):  # an import under way in this schema
            waiting = threading.Thread(target=run, args=("same", same), daemon=True)
            beside = threading.Thread(target=run, args=("other", other), daemon=True)
            waiting.start()
            beside.start()
            beside.join(timeout=30)
            assert not beside.is_alive() and reports["other"].created == ["news/posts/first.md"]
            waiting.join(timeout=1)
            assert waiting.is_alive()  # waits for the import under way
        waiting.join(timeout=30)
        assert reports["same"].created == ["news/posts/first.md"]
    finally:
        for core in (holder, same, other):
            core.close()
