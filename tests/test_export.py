"""Static export: files mirror the URL paths, byte-identical to what the server sends.

A second export into the same folder rewrites only the files whose bytes
changed and removes the files of what is gone.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from syndicator.feeds import sitefiles
from syndicator.web.export import FEED_READER_ACCEPT, MANIFEST, export

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


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


def test_export_writes_the_parts_of_a_large_sitemap_as_served(
    blog, sync, app, core, tmp_path, monkeypatch
):
    monkeypatch.setattr(sitefiles, "SITEMAP_LIMIT", 3)
    for day in range(1, 6):
        blog.post(f"day-{day}", date=f"2026-01-0{day}T00:00:00Z")
    sync()
    target = tmp_path / "site"
    export(app, core, target)
    exported = site_files(target)
    index = etree.fromstring(exported["sitemap.xml"])
    assert index.tag == f"{SITEMAP}sitemapindex"
    parts = [urlsplit(loc.text).path.lstrip("/") for loc in index.iter(f"{SITEMAP}loc")]
    assert len(parts) >= 2 and parts == [f"sitemap-{n}.xml" for n in range(1, len(parts) + 1)]
    assert set(parts) <= set(exported)
    assert_served_as_exported(app, target)  # the parts included, byte for byte

    for day in range(1, 6):
        (blog.root / "news" / "posts" / f"day-{day}.md").unlink()
    sync()
    report = export(app, core, target)
    assert set(parts) <= names(target, report.removed)  # one urlset again: no parts
    assert not any(name.startswith("sitemap-") for name in site_files(target))
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


def served_by_a_fresh_server(make_core, target: Path) -> None:
    """Every exported file is what a server started now answers: its own core and an empty
    render cache, so nothing the export rendered ahead is what it compares with."""
    from syndicator.web import create_app

    assert_served_as_exported(create_app(core=make_core(feeds={"items": 2})), target)


def tagged_blog(blog) -> None:
    """Seven posts over four list pages of two, in two tags, with links to make absolute;
    one more scheduled for next year."""
    blog.feed("news", title="News Feed", subtitle="All the *news*")
    for number in range(1, 8):
        tags = ["Alpha"] if number % 2 else ["Alpha", "Beta"]
        body = f"Text {number}, with [a link](../other/) and ![a picture](/media/p.png)."
        blog.post(f"p{number}", body, tags=tags, date=f"2026-01-0{number}T00:00:00Z")
    blog.post("later", tags=["Beta"], date="2027-01-01T00:00:00Z")


def test_pages_rendered_ahead_are_the_bytes_a_fresh_server_sends(blog, make_core, tmp_path):
    from factories import import_folder

    from syndicator.web import create_app

    tagged_blog(blog)
    core = make_core(feeds={"items": 2})
    import_folder(core, blog.root)
    target = tmp_path / "site"
    report = export(create_app(core=core), core, target)
    assert {"news/page/4/index.html", "news/tags/alpha/page/2/feed.json"} <= set(site_files(target))
    assert "news/p7/index.html" in names(target, report.written)
    assert "news/later/index.html" not in set(site_files(target))
    served_by_a_fresh_server(make_core, target)


def export_command(
    blog, database_url: str, target: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`syndicator export` as a user runs it: a process of its own, so `--jobs` forks
    (the test process may run threads, and then an export stays in one process)."""
    config = target.parent / "export.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{blog.root}"\n'
        "[feeds]\nitems = 2\n"
    )
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "export"]
    return subprocess.run(
        [*command, str(target), *args], capture_output=True, text=True, timeout=120
    )


def test_a_parallel_export_writes_the_files_a_serial_one_does(
    blog, make_core, database_url, tmp_path
):
    tagged_blog(blog)
    make_core()  # the schema
    serial = export_command(blog, database_url, tmp_path / "serial", "--jobs", "1")
    parallel = export_command(blog, database_url, tmp_path / "parallel", "--jobs", "2")
    assert serial.returncode == parallel.returncode == 0, serial.stderr + parallel.stderr
    assert "other threads" not in parallel.stderr

    assert site_files(tmp_path / "parallel") == site_files(tmp_path / "serial")
    exported = [run.stdout.splitlines()[-1] for run in (serial, parallel)]
    assert exported[1] == exported[0].replace("serial", "parallel")
    manifests = [(tmp_path / run / MANIFEST).read_text() for run in ("serial", "parallel")]
    assert manifests[0] == manifests[1]
    served_by_a_fresh_server(make_core, tmp_path / "parallel")

    again = export_command(blog, database_url, tmp_path / "parallel", "--jobs", "2", "--full")
    assert again.returncode == 0, again.stderr
    assert " 0 written, " in again.stdout and " 0 removed" in again.stdout


def test_a_failure_in_a_worker_stops_the_export_and_is_reported(
    blog, make_core, database_url, tmp_path
):
    tagged_blog(blog)
    make_core()  # the schema
    target = tmp_path / "site"
    (target / "news").mkdir(parents=True)
    (target / "news" / "p3").write_text("a file where the post's folder must go")

    failed = export_command(blog, database_url, target, "--jobs", "2")
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines()[-1].startswith("syndicator: ")
    assert "news/p3" in failed.stderr and "Traceback" not in failed.stderr
    manifest = json.loads((target / MANIFEST).read_text())
    assert "news" not in manifest["groups"]  # the next export fetches the feed again


def test_a_worker_that_dies_stops_the_export_with_an_error(blog, make_core, database_url, tmp_path):
    """A worker killed in the middle of writing a page ends the export with an error,
    neither a hang nor an export that looks complete."""
    tagged_blog(blog)
    # A page longer than a pipe holds: writing it into a named pipe nobody reads blocks.
    blog.post("p3", "Long text. " * 10_000, tags=["Alpha"], date="2026-01-03T00:00:00Z")
    make_core()  # the schema
    target = tmp_path / "site"
    pipe = target / "news" / "p3" / ".index.html.partial"  # where the page is written first
    pipe.parent.mkdir(parents=True)
    os.mkfifo(pipe)
    killer = subprocess.Popen(
        [sys.executable, "-c", KILL_THE_WRITER, str(pipe)], stdout=subprocess.PIPE, text=True
    )
    failed = export_command(blog, database_url, target, "--jobs", "2")
    if killer.poll() is None:  # still waiting for a writer: nobody wrote the page
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    killed = killer.communicate(timeout=60)[0].split()
    assert len(killed) == 1
    assert failed.returncode != 0
    assert "syndicator: an export worker stopped before it was done" in failed.stderr


KILL_THE_WRITER = """
import os, signal, sys
pipe = sys.argv[1]
with open(pipe, "rb") as reader:  # opens once a worker opens the pipe to write into it
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            files = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if pid != str(os.getpid()) and pipe in files:
            os.kill(int(pid), signal.SIGKILL)
            print(pid)
            break
    else:
        reader.read()  # nobody to kill: let the writer go on rather than hang the test
"""
