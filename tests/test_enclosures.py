# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Attachments (enclosures) from front matter and the API, as feed readers see them."""

from __future__ import annotations

import feedcheck
import pytest
from api_support import ADMIN, api  # noqa: F401

pytestmark = pytest.mark.config(site={"base_url": "https://blog.example"}, admin=ADMIN)
MP3 = b"ID3" + b"\x00" * 997
EPISODE = "https://blog.example/news/episode-one/episode.mp3"


def episode_bundle(blog, front: str) -> None:
    blog.feed("news")
    folder = blog.root / "news" / "posts" / "episode-one"
    folder.mkdir(parents=True)
    (folder / "index.md").write_text(
        f"---\ntitle: Episode one\ndate: 2026-01-02T09:00:00Z\n{front}---\n\nShow notes.\n",
        encoding="utf-8",
    )
    (folder / "episode.mp3").write_bytes(MP3)


def test_a_bundle_file_enclosure_has_its_computed_length_in_all_three_feeds(blog, sync, client):
    episode_bundle(blog, "enclosure:\n  url: episode.mp3\n  duration: '1:02:03'\n")
    assert sync().errors == []
    for name in ("atom.xml", "rss.xml"):
        [enclosure] = feedcheck.read_back(client.get(f"/news/{name}").data).entries[0].enclosures
        assert (enclosure.href, enclosure.type, enclosure.length) == (EPISODE, "audio/mpeg", "1000")
    [attachment] = client.get("/news/feed.json").get_json()["items"][0]["attachments"]
    assert attachment == {
        "url": EPISODE,
        "mime_type": "audio/mpeg",
        "size_in_bytes": 1000,
        "duration_in_seconds": 3723,
    }
    assert client.get(EPISODE.removeprefix("https://blog.example")).data == MP3
    assert f'src="{EPISODE}"' in client.get("/news/episode-one/").get_data(as_text=True)


def test_urls_and_media_folder_files_as_attachments(blog, sync, client):
    (blog.root / "news" / "media").mkdir(parents=True)
    (blog.root / "news" / "media" / "talk.m4a").write_bytes(b"m4a" * 10)
    blog.post(
        "talk",
        attachments=[
            "talk.m4a",
            {"url": "https://cdn.example/talk.mp3", "length": 12345, "title": "MP3 copy"},
        ],
    )
    assert sync().errors == []
    atom = feedcheck.read_back(client.get("/news/atom.xml").data).entries[0]
    assert [(e.href, e.type, e.length) for e in atom.enclosures] == [
        ("https://blog.example/news/media/talk.m4a", "audio/mp4", "30"),
        ("https://cdn.example/talk.mp3", "audio/mpeg", "12345"),
    ]
    rss = feedcheck.read_back(client.get("/news/rss.xml").data).entries[0]
    assert [e.href for e in rss.enclosures] == ["https://blog.example/news/media/talk.m4a"]


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("enclosure: missing.mp3\n", "attachment 'missing.mp3' not found"),
        ("enclosure: ftp://x.example/a.mp3\n", "neither an http(s) URL"),
        ("enclosure: {url: a.mp3, size: 3}\n", "unknown attachment key 'size'"),
        ("enclosure: {url: episode.mp3, duration: soon}\n", "'duration' must be"),
        ("episode: -1\n", "'episode' must be a whole number"),
    ],
)
def test_a_bad_attachment_is_reported_with_the_file_and_why(blog, sync, front, reason):
    episode_bundle(blog, front)
    [error] = sync().errors
    assert error.path == "news/posts/episode-one/index.md"
    assert reason in error.reason


def test_the_api_takes_attachments_and_computes_a_media_files_length(api, client):
    assert api.post("/api/feeds/news/media?name=ep.mp3", data=MP3).status_code == 201
    post = api.create(
        title="Episode",
        attachments=[{"url": "ep.mp3", "duration": 60}],
        episode=3,
        season=1,
    )
    assert post["attachments"] == [
        {
            "url": "https://blog.example/news/media/ep.mp3",
            "type": "audio/mpeg",
            "length": 1000,
            "duration": 60,
            "title": None,
        }
    ]
    assert (post["episode"], post["season"]) == (3, 1)
    [enclosure] = feedcheck.read_back(client.get("/news/rss.xml").data).entries[0].enclosures
    assert enclosure.length == "1000"


def test_the_api_refuses_an_attachment_it_cannot_serve(api):
    missing = api.post("/api/feeds/news/posts", json={"title": "x", "attachments": ["no.mp3"]})
    assert missing.status_code == 422
    unknown = api.post(
        "/api/feeds/news/posts", json={"title": "x", "attachments": [{"url": "no.mp3"}]}
    )
    assert "no media file 'no.mp3'" in unknown.get_json()["error"]["fields"]["attachments"]
    bad = api.post(
        "/api/feeds/news/posts",
        json={"title": "x", "attachments": [{"url": "https://x.example/a.mp3", "length": -1}]},
    )
    assert bad.status_code == 422
    assert "length" in bad.get_json()["error"]["fields"]["attachments"]


def test_deleting_a_media_file_drops_its_enclosure_from_the_feeds(api, client):
    api.post("/api/feeds/news/media?name=ep.mp3", data=MP3)
    api.create(title="Episode", attachments=[{"url": "ep.mp3"}])
    assert api.delete("/api/feeds/news/media/ep.mp3").status_code == 204
    assert feedcheck.read_back(client.get("/news/atom.xml").data).entries[0].enclosures == []
