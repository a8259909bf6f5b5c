"""Media from the content folder: post bundles and the feed's media folder, served and linked."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import feedcheck
import pytest
from factories import add_feed, add_post, add_subscriber, build_core
from mail_support import smtp_email_config, smtp_server

from syndicator import worker
from syndicator.web.export import export

pytestmark = pytest.mark.config(site={"base_url": "https://blog.example"})
FEED_XML = ("atom.xml", "rss.xml")
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


@pytest.fixture
def bundle(blog):
    """A post bundle with an image beside its index.md, and a feed-wide media file."""
    blog.feed("news")
    folder = blog.root / "news" / "posts" / "2026-01-02-dolphins"
    (folder / "images").mkdir(parents=True)
    (folder / "index.md").write_text(
        "---\ntitle: Dolphins\ndate: 2026-01-02T09:00:00Z\n---\n\n"
        "![A dolphin](images/dolphin.jpg) and [the logo](../../media/logo.png)"
        " and [the map](media/maps/sea.pdf).\n",
        encoding="utf-8",
    )
    (folder / "images" / "dolphin.jpg").write_bytes(JPEG)
    (folder / ".DS_Store").write_bytes(b"junk")
    media = blog.root / "news" / "media"
    (media / "maps").mkdir(parents=True)
    (media / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nlogo")
    (media / "maps" / "sea.pdf").write_bytes(b"%PDF-1.4 sea")
    return folder


def test_a_bundle_is_a_post_named_after_its_folder_with_its_files_served_beside_it(
    bundle, sync, client
):
    report = sync()
    assert report.errors == []
    assert client.get("/news/dolphins/").status_code == 200
    image = client.get("/news/dolphins/images/dolphin.jpg")
    assert image.status_code == 200
    assert image.data == JPEG
    assert image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["ETag"] == f'"{hashlib.sha256(JPEG).hexdigest()}"'
    assert image.headers["Content-Length"] == str(len(JPEG))
    assert client.get("/news/dolphins/.DS_Store").status_code == 404
    logo = client.get("/news/media/logo.png")
    assert logo.data == b"\x89PNG\r\n\x1a\nlogo"
    assert client.get("/news/media/maps/sea.pdf").headers["Content-Type"] == "application/pdf"


def test_relative_links_reach_the_files_on_the_page_in_every_feed_and_the_post_api(
    bundle, sync, client
):
    sync()
    expected = {
        "https://blog.example/news/dolphins/images/dolphin.jpg",
        "https://blog.example/news/media/logo.png",
        "https://blog.example/news/media/maps/sea.pdf",
    }
    page = client.get("/news/dolphins/").get_data(as_text=True)
    assert all(url in page for url in expected)
    atom, rss = (feedcheck.read_back(client.get(f"/news/{n}").data) for n in FEED_XML)
    json_feed = client.get("/news/feed.json").get_json()
    for content in (
        atom.entries[0].content[0].value,
        rss.entries[0].summary,
        json_feed["items"][0]["content_html"],
    ):
        assert all(url in content for url in expected)
    for url in expected:
        assert client.get(url.removeprefix("https://blog.example")).status_code == 200


def test_a_bare_name_in_a_post_without_a_bundle_finds_the_feed_media_folder(blog, sync, client):
    blog.post("plain", "![x](images/dolphin.jpg)")
    (blog.root / "news" / "media" / "images").mkdir(parents=True)
    (blog.root / "news" / "media" / "images" / "dolphin.jpg").write_bytes(JPEG)
    sync()
    moved = client.get("/news/plain/images/dolphin.jpg")
    assert moved.status_code == 301
    assert moved.headers["Location"] == "https://blog.example/news/media/images/dolphin.jpg"
    assert client.get("/news/plain/images/whale.jpg").status_code == 404


def test_changed_and_removed_folder_files_are_served_changed_and_removed(bundle, sync, client):
    sync()
    logo = bundle.parent.parent / "media" / "logo.png"
    first = client.get("/news/media/logo.png").headers["ETag"]
    logo.write_bytes(b"\x89PNG\r\n\x1a\nnew logo!")
    os.utime(logo, (1_800_000_000, 1_800_000_000))
    sync()
    again = client.get("/news/media/logo.png")
    assert again.data == b"\x89PNG\r\n\x1a\nnew logo!"
    assert again.headers["ETag"] != first
    assert again.headers["Last-Modified"] == "Fri, 15 Jan 2027 08:00:00 GMT"
    logo.unlink()
    (bundle / "images" / "dolphin.jpg").unlink()
    sync()
    assert client.get("/news/media/logo.png").status_code == 404
    assert client.get("/news/dolphins/images/dolphin.jpg").status_code == 404


def test_a_draft_bundle_keeps_its_files_private(bundle, sync, client):
    index = bundle / "index.md"
    index.write_text(index.read_text().replace("title: Dolphins", "title: Dolphins\ndraft: true"))
    sync()
    assert client.get("/news/dolphins/images/dolphin.jpg").status_code == 404


def test_export_writes_every_media_file_where_its_url_points(bundle, sync, app, core, tmp_path):
    sync()
    target = tmp_path / "site"
    export(app, core, target)
    assert (target / "news/dolphins/images/dolphin.jpg").read_bytes() == JPEG
    assert (target / "news/media/logo.png").read_bytes() == b"\x89PNG\r\n\x1a\nlogo"
    assert (target / "news/media/maps/sea.pdf").read_bytes() == b"%PDF-1.4 sea"


def test_a_digest_shows_a_media_image_at_its_absolute_url(make_config, clock):
    with smtp_server() as (recorder, port):
        core = build_core(make_config(email=smtp_email_config(port)), clock)
        add_feed(core)
        add_subscriber(core, "ann@example.org")
        clock.advance(minutes=1)
        add_post(core, "Post one", content_source="![A dolphin](media/dolphin.jpg)")
        clock.moment = clock.moment.replace(hour=7, minute=1) + timedelta(days=1)
        worker.tick(core)
        core.close()
    [mail] = recorder.to("ann@example.org")
    html = mail.get_body(("html",)).get_content()
    assert 'src="https://blog.example/news/media/dolphin.jpg"' in html
