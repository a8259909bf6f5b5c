# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Uploading, listing and deleting media through the admin API; serving it over real HTTP."""

from __future__ import annotations

import io

import pytest
import requests
from api_support import ADMIN, api  # noqa: F401
from server_process import serving

pytestmark = pytest.mark.config(admin=ADMIN)
MP3 = b"ID3\x04\x00" + bytes(range(256)) * 400


def test_a_multipart_upload_is_served_at_the_url_the_api_gives(api, client):
    sent = api.post(
        "/api/feeds/news/media",
        data={"file": (io.BytesIO(MP3), "Episode 1.mp3")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert body["name"] == "Episode-1.mp3"
    assert body["content_type"] == "audio/mpeg"
    assert body["length"] == len(MP3)
    assert sent.headers["Location"].endswith("/api/feeds/news/media/Episode-1.mp3")
    served = client.get(body["url"].removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200
    assert served.data == MP3
    assert served.headers["Content-Type"] == "audio/mpeg"
    listed = api.get("/api/feeds/news/media").get_json()
    assert [item["name"] for item in listed["items"]] == ["Episode-1.mp3"]
    assert api.get("/api/feeds/news/media/Episode-1.mp3").get_json() == body


def test_a_raw_body_upload_takes_its_name_from_the_query(api, client):
    sent = api.post("/api/feeds/news/media?name=covers/art.png", data=b"\x89PNG art")
    assert sent.status_code == 201
    assert client.get("/news/media/covers/art.png").data == b"\x89PNG art"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../../etc/passwd.txt", 422),
        (".htaccess", 422),
        ("images/.hidden.png", 422),
        ("", 422),
        ("no-extension", 415),
        ("x.unknownext", 415),
    ],
)
def test_bad_names_are_refused_and_nothing_is_stored(api, name, status):
    sent = api.post(f"/api/feeds/news/media?name={name}", data=b"data")
    assert sent.status_code == status
    assert sent.get_json()["error"]["code"]
    assert api.get("/api/feeds/news/media").get_json()["items"] == []


def test_a_name_in_use_is_a_conflict_and_keeps_the_first_file(api, client):
    assert api.post("/api/feeds/news/media?name=a.jpg", data=b"first").status_code == 201
    clash = api.post("/api/feeds/news/media?name=a.jpg", data=b"second")
    assert clash.status_code == 409
    assert client.get("/news/media/a.jpg").data == b"first"


@pytest.mark.config(admin={**ADMIN, "max_media_bytes": 1000})
def test_a_file_over_the_limit_is_413_either_way(api):
    raw = api.post("/api/feeds/news/media?name=big.mp3", data=b"x" * 1001)
    assert raw.status_code == 413
    multipart = api.post(
        "/api/feeds/news/media",
        data={"file": (io.BytesIO(b"x" * 1001), "big.mp3")},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 413
    assert api.post("/api/feeds/news/media?name=ok.mp3", data=b"x" * 1000).status_code == 201


def test_delete_answers_204_and_the_file_is_gone(api, client):
    api.post("/api/feeds/news/media?name=a.jpg", data=b"first")
    assert api.delete("/api/feeds/news/media/a.jpg").status_code == 204
    assert client.get("/news/media/a.jpg").status_code == 404
    assert api.delete("/api/feeds/news/media/a.jpg").status_code == 404


def test_a_content_folder_file_cannot_be_deleted_or_overwritten_through_the_api(
    api, blog, sync, client
):
    (blog.root / "news" / "media").mkdir()
    (blog.root / "news" / "media" / "logo.png").write_bytes(b"folder logo")
    sync()
    assert api.delete("/api/feeds/news/media/logo.png").status_code == 409
    assert api.post("/api/feeds/news/media?name=logo.png", data=b"x").status_code == 409
    assert client.get("/news/media/logo.png").data == b"folder logo"


@pytest.mark.parametrize("kind", ["svg", "html"])
def test_files_a_browser_could_run_are_downloads_in_a_sandbox(api, client, kind):
    script = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    api.post(f"/api/feeds/news/media?name=x.{kind}", data=script)
    served = client.get(f"/news/media/x.{kind}")
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_feed_is_404(api):
    assert api.post("/api/feeds/nofeed/media?name=a.jpg", data=b"x").status_code == 404
    assert api.get("/api/feeds/nofeed/media").status_code == 404


def test_an_upload_through_one_process_is_served_by_another(api, make_core, blog):
    from syndicator.web import create_app

    api.post("/api/feeds/news/media?name=shared.jpg", data=b"shared bytes")
    other = create_app(core=make_core()).test_client()
    assert other.get("/news/media/shared.jpg").data == b"shared bytes"


@pytest.fixture
def live(tmp_path, database_url):
    """A real `syndicator serve` with one media file, episode.mp3."""
    media = tmp_path / "site" / "feeds" / "news" / "media"
    media.mkdir(parents=True)
    (media.parent / "feed.toml").write_text('title = "News"\n', encoding="utf-8")
    (media / "episode.mp3").write_bytes(MP3)
    config = f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "feeds"\n'
    with serving(tmp_path / "site", config) as base:
        yield base + "/news/media/episode.mp3"


def test_byte_ranges_over_real_http(live):
    whole = requests.get(live, timeout=10)
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.content == MP3
    part = requests.get(live, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.content == MP3[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(MP3)}"
    tail = requests.get(live, headers={"Range": "bytes=-10"}, timeout=10)
    assert tail.content == MP3[-10:]
    beyond = requests.get(live, headers={"Range": f"bytes={len(MP3)}-"}, timeout=10)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(MP3)}"
    several = requests.get(live, headers={"Range": "bytes=0-1,5-6"}, timeout=10)
    assert several.status_code == 200
    assert several.content == MP3


def test_validators_head_and_if_range_over_real_http(live):
    first = requests.get(live, timeout=10)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert requests.get(live, headers={"If-None-Match": etag}, timeout=10).status_code == 304
    since = requests.get(live, headers={"If-Modified-Since": modified}, timeout=10)
    assert since.status_code == 304
    fresh_range = requests.get(
        live, headers={"If-None-Match": etag, "Range": "bytes=0-9"}, timeout=10
    )
    assert fresh_range.status_code == 304
    head = requests.head(live, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(MP3))
    assert head.content == b""
    stale = requests.get(live, headers={"If-Range": '"other"', "Range": "bytes=0-9"}, timeout=10)
    assert stale.status_code == 200
    assert stale.content == MP3
    same = requests.get(live, headers={"If-Range": etag, "Range": "bytes=0-9"}, timeout=10)
    assert same.status_code == 206
    assert same.content == MP3[:10]


def test_media_urls_leave_the_api_paths_to_the_api(api):
    # /<feed>/<slug>/<name> would otherwise also match /api/posts/x,y (GET only: a 405).
    assert api.patch("/api/posts/x,y", json={}).status_code == 404
