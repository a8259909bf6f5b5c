"""Static export: files mirror the URL paths, byte-identical to what the server sends.

A second export into the same folder rewrites only the files whose bytes
changed and removes the files of what is gone.
"""

from datetime import timedelta
from pathlib import Path

from syndicator.web.export import FEED_READER_ACCEPT, MANIFEST, export


def site_files(target: Path) -> dict[str, bytes]:
    return {
        path.relative_to(target).as_posix(): path.read_bytes()
        for path in target.rglob("*")
        if path.is_file() and path.name != MANIFEST
    }


def assert_served_as_exported(app, target: Path) -> None:
    client = app.test_client()
    for name, body in site_files(target).items():
        url = "/" + name.removesuffix("index.html")
        served = client.get(url, headers={"Accept": FEED_READER_ACCEPT})
        assert served.status_code == 200, name
        assert body == served.data, name


def names(target: Path, files: list[Path]) -> set[str]:
    return {path.relative_to(target).as_posix() for path in files}


def test_export_writes_every_page_and_feed_byte_identical(blog, sync, app, core, tmp_path):
    blog.post("one", tags=["Alpha"], date="2026-01-01T00:00:00Z")
    blog.post("two", tags=["Alpha", "Beta"], date="2026-01-02T00:00:00Z")
    blog.post("draft", draft=True)
    sync()
    target = tmp_path / "site"
    report = export(app, core, target)
    expected = {"index.html", "news/index.html", "news/one/index.html", "news/two/index.html"}
    expected |= {"feeds.opml", "sitemap.xml", "robots.txt", "favicon.ico"}
    for listing in ("news", "news/tags/alpha", "news/tags/beta"):
        expected |= {f"{listing}/atom.xml", f"{listing}/rss.xml", f"{listing}/feed.json"}
        expected.add(f"{listing}/index.html")
    assert names(target, report.written) == expected == set(site_files(target))
    assert_served_as_exported(app, target)


def test_export_includes_older_pages(blog, make_core, tmp_path: Path):
    from factories import import_folder

    from syndicator.web import create_app

    for number in range(1, 6):
        blog.post(f"p{number}", date=f"2026-01-0{number}T00:00:00Z")
    core = make_core(feeds={"items": 2})
    import_folder(core, blog.root)
    written = export(create_app(core=core), core, tmp_path / "site").written
    exported = names(tmp_path / "site", written)
    assert {"news/page/2/atom.xml", "news/page/3/rss.xml", "news/page/3/index.html"} <= exported
    assert "news/page/1/atom.xml" not in exported


def test_a_second_export_of_an_unchanged_blog_rewrites_nothing(blog, sync, app, core, tmp_path):
    blog.post("one", tags=["Alpha"])
    sync()
    target = tmp_path / "site"
    first = export(app, core, target)
    mtimes = {path: path.stat().st_mtime_ns for path in first.written}

    again = export(app, core, target)
    assert again.written == again.removed == []
    assert again.unchanged == len(first.written)
    assert {path: path.stat().st_mtime_ns for path in first.written} == mtimes

    full = export(app, core, target, incremental=False)  # every page fetched again
    assert full.written == full.removed == [] and full.unchanged == len(first.written)


def test_an_edit_rewrites_only_the_files_that_show_it(blog, sync, app, core, clock, tmp_path):
    blog.post("one", "First text.", tags=["Alpha"], date="2026-01-01T00:00:00Z")
    blog.post("two", "Second text.", tags=["Beta"], date="2026-01-02T00:00:00Z")
    sync()
    target = tmp_path / "site"
    export(app, core, target)

    clock.advance(hours=1)
    blog.post("one", "First text, edited.", tags=["Alpha"], date="2026-01-01T00:00:00Z")
    sync()
    report = export(app, core, target)
    written = names(target, report.written)
    assert "news/one/index.html" in written and "news/tags/alpha/atom.xml" in written
    assert not written & {"news/two/index.html", "news/tags/beta/atom.xml"}
    assert report.removed == []
    assert_served_as_exported(app, target)


def test_files_of_deleted_posts_and_emptied_tags_are_removed(blog, sync, app, core, tmp_path):
    blog.post("one", tags=["Alpha"], date="2026-01-01T00:00:00Z")
    gone = blog.post("two", tags=["Beta"], date="2026-01-02T00:00:00Z")
    sync()
    target = tmp_path / "site"
    export(app, core, target)

    gone.unlink()
    sync()
    report = export(app, core, target)
    removed = names(target, report.removed)
    assert "news/two/index.html" in removed and "news/tags/beta/feed.json" in removed
    assert not (target / "news" / "two").exists()
    assert not (target / "news" / "tags" / "beta").exists()
    assert_served_as_exported(app, target)


def test_a_scheduled_post_that_came_due_is_exported_next_time(
    blog, sync, app, core, clock, tmp_path
):
    blog.post("now", date="2026-01-01T00:00:00Z")
    later = clock() + timedelta(hours=2)
    blog.post("later", date=later.isoformat())
    sync()
    target = tmp_path / "site"
    export(app, core, target)
    assert not (target / "news" / "later").exists()

    clock.advance(hours=3)  # no tick, no import: the feed's version did not move
    report = export(app, core, target)
    assert "news/later/index.html" in names(target, report.written)
    assert_served_as_exported(app, target)
