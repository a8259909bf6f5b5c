"""Static export: files mirror the URL paths, byte-identical to what the server sends."""

from pathlib import Path

from syndicator.web.export import FEED_READER_ACCEPT, export


def test_export_writes_every_page_and_feed_byte_identical(blog, sync, app, core, tmp_path):
    blog.post("one", tags=["Alpha"], date="2026-01-01T00:00:00Z")
    blog.post("two", tags=["Alpha", "Beta"], date="2026-01-02T00:00:00Z")
    blog.post("draft", draft=True)
    sync()
    target = tmp_path / "site"
    written = export(app, core, target)
    relative = sorted(path.relative_to(target).as_posix() for path in written)
    expected = {"index.html", "news/index.html", "news/one/index.html", "news/two/index.html"}
    expected |= {"feeds.opml", "sitemap.xml", "robots.txt", "favicon.ico"}
    for listing in ("news", "news/tags/alpha", "news/tags/beta"):
        expected |= {f"{listing}/atom.xml", f"{listing}/rss.xml", f"{listing}/feed.json"}
        expected.add(f"{listing}/index.html")
    assert set(relative) == expected
    client = app.test_client()
    for name in relative:
        url = "/" + name.removesuffix("index.html")
        served = client.get(url, headers={"Accept": FEED_READER_ACCEPT}).data
        assert (target / name).read_bytes() == served, name


def test_export_includes_older_pages(blog, make_core, tmp_path: Path):
    from factories import import_folder

    from syndicator.web import create_app

    for number in range(1, 6):
        blog.post(f"p{number}", date=f"2026-01-0{number}T00:00:00Z")
    core = make_core(feeds={"items": 2})
    import_folder(core, blog.root)
    written = export(create_app(core=core), core, tmp_path / "site")
    names = {path.relative_to(tmp_path / "site").as_posix() for path in written}
    assert {"news/page/2/atom.xml", "news/page/3/rss.xml", "news/page/3/index.html"} <= names
    assert "news/page/1/atom.xml" not in names
