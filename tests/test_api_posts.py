# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""The admin API for posts, through the Flask test client and through a real server.

Every change is checked where a reader sees it: the feeds (re-read by
feedparser), the HTML pages, and the API itself.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import feedcheck
import pytest
import requests
from api_support import ADMIN, AUTH, api, live_server  # noqa: F401

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token

FEED_FILES = ("atom.xml", "rss.xml")


def entries(client, feed: str = "news", tag: str | None = None) -> list:
    """The entries of the feed's Atom and RSS documents (checked to agree), and JSON Feed."""
    prefix = f"/{feed}/" if tag is None else f"/{feed}/tags/{tag}/"
    parsed = [feedcheck.read_back(client.get(prefix + name).data).entries for name in FEED_FILES]
    assert [e.id for e in parsed[0]] == [e.id for e in parsed[1]]
    items = client.get(prefix + "feed.json").get_json()["items"]
    assert [item["id"] for item in items] == [e.id for e in parsed[0]]
    return parsed[0]


def test_a_post_sent_without_an_author_is_signed_by_the_feeds_author_everywhere(api, blog, sync):
    """feed.toml names the blog's author: feeds, teasers and the post page show them."""
    blog.feed("news", author={"name": "Ann Editor", "email": "ann@example.org"})
    sync()
    api.create(
        title="Unsigned", content="Body.", summary="Short.", published="2026-01-02T00:00:00Z"
    )
    api.create(title="Signed", content="Body.", author="Bob", published="2026-01-01T00:00:00Z")
    client = api.client
    atom = feedcheck.read_back(client.get("/news/atom.xml").data).entries
    rss = feedcheck.read_back(client.get("/news/rss.xml").data).entries
    items = client.get("/news/feed.json").get_json()["items"]
    assert [entry.author_detail.name for entry in atom] == ["Ann Editor", "Bob"]
    assert [entry.author for entry in rss] == ["ann@example.org (Ann Editor)", "Bob"]
    assert [item["authors"] for item in items] == [[{"name": "Ann Editor"}], [{"name": "Bob"}]]
    teasers = client.get("/news/").get_data(as_text=True)
    assert "· Ann Editor" in teasers and "· Bob" in teasers
    assert "· Ann Editor" in client.get("/news/unsigned/").get_data(as_text=True)


def test_created_post_is_in_every_feed_format_with_its_guid_and_permalink(api):
    post = api.create(title="Hello, World", content="Some *Markdown*.", tags=["Sea", "Boats"])
    assert post["status"] == "published"
    assert post["slug"] == "hello-world"
    assert post["url"] == "http://127.0.0.1:8000/news/hello-world/"
    assert post["content_html"] == "<p>Some <em>Markdown</em>.</p>\n"
    (entry,) = entries(api.client)
    assert entry.id == post["guid"]
    assert entry.link == post["url"]
    assert entry.title == "Hello, World"
    assert [tag.term for tag in entry.tags] == ["Sea", "Boats"]
    assert api.client.get("/news/hello-world/").status_code == 200
    assert [e.id for e in entries(api.client, tag="sea")] == [post["guid"]]


def test_get_returns_what_create_returned(api):
    post = api.create(title="Round trip", summary="Short.", author="Ann")
    response = api.get(f"/api/posts/{post['id']}")
    assert response.status_code == 200
    assert response.get_json() == post
    assert post["published"].endswith("Z") and post["created"] == post["published"]
    assert post["source"] == "api" and post["source_path"] is None


def test_html_content_is_sanitized_like_files_and_content_is_then_null(api):
    post = api.create(title="Html", content_html='<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert post["content_html"] == "<p>Hi</p>"
    assert post["content"] is None
    for name in FEED_FILES:
        assert b"alert" not in api.client.get(f"/news/{name}").data
    assert b"<script>alert" not in api.client.get("/news/html/").data


def test_hostile_text_is_cleaned_and_feeds_stay_valid(api):
    post = api.create(
        title="Bell\x07 and ]]> end",
        content="Code: ]]> and <script>evil()</script> \x00\x1b done",
        summary="sum\x0bmary",
        author="Eve\ud800",
        tags=["x\x01y", ""],
    )
    assert post["title"] == "Bell and ]]> end"
    assert post["summary"] == "summary"
    assert post["author"] == "Eve"
    assert post["tags"] == ["xy"]
    assert "evil" not in post["content_html"] and "]]&gt;" in post["content_html"]
    (entry,) = entries(api.client)
    assert entry.title == "Bell and ]]> end"
    assert "Code: ]]&gt; and" in entry.content[0].value  # HTML text reading "]]>"


def test_ten_thousand_character_title_is_refused_with_a_field_message(api):
    response = api.post("/api/feeds/news/posts", json={"title": "t" * 10_000})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"title": "must be at most 2000 characters"}
    assert entries(api.client) == []


def test_wrong_types_and_missing_fields_get_one_message_per_field(api):
    response = api.post(
        "/api/feeds/news/posts",
        json={"content": 5, "tags": "a,b", "published": 1700000000, "status": "live", "x": 1},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "title": "is required",
        "content": "must be a string, not a number",
        "tags": "must be a list of strings",
        "published": "must be an RFC 3339 time string, not a number",
        "status": "must be one of draft, published",
        "x": "is not a field of a post",
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": "T", "content": "a", "content_html": "<p>b</p>"}, "content_html"),
        ({"title": "T", "published": "2026-01-01T09:00:00"}, "published"),
        ({"title": "T", "published": "2026-02-30T09:00:00Z"}, "published"),
        ({"title": "T", "published": "9999-12-31T23:59:59-01:00"}, "published"),
        ({"title": "T", "slug": "Not A Slug"}, "slug"),
        ({"title": "T", "slug": "page"}, "slug"),
        ({"title": "\x00\x01 "}, "title"),
        ({"title": None}, "title"),
        ({"title": True}, "title"),
    ],
)
def test_invalid_field_is_named_in_the_422(api, body, field):
    response = api.post("/api/feeds/news/posts", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_slug_comes_from_the_title_and_a_repeated_title_gets_a_free_one(api):
    first = api.create(title="Weekly Notes")
    second = api.create(title="Weekly Notes")
    page = api.create(title="Page")
    assert (first["slug"], second["slug"], page["slug"]) == (
        "weekly-notes",
        "weekly-notes-2",
        "page-2",
    )
    assert api.create(title="日本語")["slug"] == "post"


def test_explicit_slug_clash_is_409_and_creates_nothing(api):
    api.create(title="One", slug="taken")
    response = api.post("/api/feeds/news/posts", json={"title": "Two", "slug": "taken"})
    assert response.status_code == 409
    assert "taken" in response.get_json()["error"]["message"]
    assert response.get_json()["error"]["fields"] == {"slug": "is already used by another post"}
    assert [e.title for e in entries(api.client)] == ["One"]
    other = api.create(title="Other")
    clash = api.patch(f"/api/posts/{other['id']}", json={"slug": "taken"})
    assert clash.status_code == 409


def test_slug_of_a_deleted_post_can_be_used_again(api):
    old = api.create(title="Reused", slug="reused")
    assert api.delete(f"/api/posts/{old['id']}").status_code == 204
    new = api.create(title="Reused again", slug="reused")
    assert new["guid"] != old["guid"]
    assert [e.id for e in entries(api.client)] == [new["guid"]]


def test_scheduled_post_is_invisible_until_due(api, clock):
    post = api.create(title="Later", published="2026-11-26T13:00:00+01:00")
    assert post["status"] == "published"  # 13:00+01:00 is 12:00Z, the clock's now
    future = api.create(title="Future", published="2026-11-27T09:00:00Z")
    assert future["status"] == "scheduled"
    assert [e.title for e in entries(api.client)] == ["Later"]
    assert api.client.get("/news/future/").status_code == 404
    clock.advance(days=1)
    assert [e.title for e in entries(api.client)] == ["Future", "Later"]
    assert api.get(f"/api/posts/{future['id']}").get_json()["status"] == "published"
    assert api.client.get("/news/future/").status_code == 200


def test_draft_is_invisible_until_published_and_then_goes_out_now(api, clock):
    draft = api.create(title="Draft", status="draft", published="2026-11-01T09:00:00Z")
    assert draft["status"] == "draft"
    assert entries(api.client) == [] and api.client.get("/news/draft/").status_code == 404
    clock.advance(hours=2)
    published = api.patch(f"/api/posts/{draft['id']}", json={"status": "published"}).get_json()
    assert published["status"] == "published"
    assert published["published"] == "2026-11-26T14:00:00Z"
    (entry,) = entries(api.client)
    assert entry.id == draft["guid"]
    unpublished = api.patch(f"/api/posts/{draft['id']}", json={"status": "draft"}).get_json()
    assert unpublished["status"] == "draft" and entries(api.client) == []
    clock.advance(hours=2)
    back = api.patch(f"/api/posts/{draft['id']}", json={"status": "published"}).get_json()
    assert back["published"] == "2026-11-26T14:00:00Z"  # once live, a post keeps its date


def test_list_filters_by_status_and_tag_newest_first(api, clock):
    old = api.create(title="Old", published="2026-01-01T00:00:00Z", tags=["Sea"])
    new = api.create(title="New", published="2026-06-01T00:00:00Z")
    draft = api.create(title="Draft", status="draft", tags=["sea"])
    later = api.create(title="Later", published="2027-01-01T00:00:00Z", tags=["Sea"])

    def ids(query: str = "") -> list[int]:
        response = api.get("/api/feeds/news/posts" + query)
        assert response.status_code == 200
        return [item["id"] for item in response.get_json()["items"]]

    assert ids() == [later["id"], draft["id"], new["id"], old["id"]]
    assert ids("?status=published") == [new["id"], old["id"]]
    assert ids("?status=scheduled") == [later["id"]]
    assert ids("?status=draft") == [draft["id"]]
    assert ids("?tag=Sea") == [later["id"], draft["id"], old["id"]]
    assert ids("?tag=sea&status=published") == [old["id"]]
    assert ids("?tag=nothing") == []
    bad = api.get("/api/feeds/news/posts?status=live")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]


def test_cursor_paging_walks_every_post_once(api):
    created = [
        api.create(title=f"Post {n}", published=f"2026-01-{n:02d}T00:00:00Z") for n in range(1, 8)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.get("/api/feeds/news/posts" + query).get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [post["id"] for post in reversed(created)]


def test_a_post_created_while_paging_shifts_nothing_between_pages(api):
    created = [
        api.create(title=f"Post {n}", published=f"2026-01-{n:02d}T00:00:00Z") for n in range(1, 7)
    ]
    first = api.get("/api/feeds/news/posts?limit=3").get_json()
    api.create(title="Newest", published="2026-02-01T00:00:00Z")
    second = api.get(f"/api/feeds/news/posts?limit=3&cursor={first['next_cursor']}").get_json()
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert seen == [post["id"] for post in reversed(created)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ("?limit=101", "limit"),
        ("?limit=0", "limit"),
        ("?limit=²", "limit"),
        ("?limit=" + "9" * 5000, "limit"),
    ],
)
def test_bad_paging_arguments_are_422(api, query, field):
    response = api.get("/api/feeds/news/posts" + query)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_patch_moves_updated_only_when_readers_see_a_change(api, clock):
    post = api.create(title="Same", content="Text.", tags=["a"])
    clock.advance(hours=1)
    same = api.patch(f"/api/posts/{post['id']}", json={"title": "Same", "tags": ["a"]}).get_json()
    assert same["updated"] == post["updated"]
    clock.advance(hours=1)
    changed = api.patch(f"/api/posts/{post['id']}", json={"summary": "New teaser"}).get_json()
    assert changed["updated"] == "2026-11-26T14:00:00Z"
    assert changed["summary"] == "New teaser"
    assert (changed["title"], changed["content"], changed["tags"]) == ("Same", "Text.", ["a"])
    assert changed["guid"] == post["guid"] and changed["published"] == post["published"]
    (entry,) = entries(api.client)
    assert entry.summary == "New teaser"
    cleared = api.patch(f"/api/posts/{post['id']}", json={"summary": None}).get_json()
    assert cleared["summary"] is None


def test_new_slug_moves_the_permalink_but_never_the_entry_id(api):
    post = api.create(title="Before", content="x")
    moved = api.patch(f"/api/posts/{post['id']}", json={"slug": "after", "title": "After"})
    assert moved.status_code == 200
    assert moved.get_json()["url"] == "http://127.0.0.1:8000/news/after/"
    assert api.client.get("/news/before/").status_code == 404
    assert api.client.get("/news/after/").status_code == 200
    (entry,) = entries(api.client)
    assert (entry.id, entry.title) == (post["guid"], "After")


def test_delete_removes_the_post_from_every_feed_and_page_at_once(api):
    keep = api.create(title="Keep", published="2026-01-01T00:00:00Z", tags=["t"])
    gone = api.create(title="Gone", tags=["t"])
    assert len(entries(api.client)) == 2  # the feeds are now rendered and cached
    assert api.delete(f"/api/posts/{gone['id']}").status_code == 204
    assert [e.id for e in entries(api.client)] == [keep["guid"]]
    assert [e.id for e in entries(api.client, tag="t")] == [keep["guid"]]
    assert api.client.get("/news/gone/").status_code == 410
    assert b"Gone" not in api.client.get("/news/").data
    assert api.get(f"/api/posts/{gone['id']}").status_code == 404
    assert api.delete(f"/api/posts/{gone['id']}").status_code == 404
    listed = api.get("/api/feeds/news/posts").get_json()["items"]
    assert [item["id"] for item in listed] == [keep["id"]]


def test_file_post_cannot_be_changed_through_the_api_while_its_file_exists(api, blog, sync):
    blog.post("from-file", title="From file")
    sync()
    (item,) = api.get("/api/feeds/news/posts").get_json()["items"]
    assert (item["source"], item["source_path"]) == ("file", "news/posts/from-file.md")
    for response in (
        api.patch(f"/api/posts/{item['id']}", json={"title": "Hijacked"}),
        api.delete(f"/api/posts/{item['id']}"),
    ):
        assert response.status_code == 409
        assert "news/posts/from-file.md" in response.get_json()["error"]["message"]
    assert [e.title for e in entries(api.client)] == ["From file"]


def test_post_whose_file_is_gone_can_be_adopted_by_the_api(api, blog, sync):
    path = blog.post("orphan", title="Orphan")
    sync()
    (item,) = api.get("/api/feeds/news/posts").get_json()["items"]
    path.unlink()
    adopted = api.patch(f"/api/posts/{item['id']}", json={"title": "Adopted"}).get_json()
    assert (adopted["source"], adopted["guid"]) == ("api", item["guid"])
    sync()  # the folder no longer owns it, so an import leaves it alone
    assert [e.title for e in entries(api.client)] == ["Adopted"]


def test_folder_import_never_touches_an_api_post(api, blog, sync):
    post = api.create(title="Mine", slug="mine", content="API text")
    blog.post("mine", title="File wants the slug")
    blog.post("other", title="Other file")
    report = sync()
    assert [error.path for error in report.errors] == ["news/posts/mine.md"]
    assert api.get(f"/api/posts/{post['id']}").get_json() == post
    assert sorted(e.title for e in entries(api.client)) == ["Mine", "Other file"]


@pytest.mark.parametrize("path", ["/api/feeds/nope/posts", "/api/feeds/%00/posts"])
def test_unknown_feed_is_404(api, path):
    assert api.get(path).status_code == 404
    response = api.post(path, json={"title": "T"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("post_id", ["999", "0", str(2**40)])
def test_unknown_post_is_404_for_every_method(api, post_id):
    for method in ("get", "delete"):
        assert getattr(api, method)(f"/api/posts/{post_id}").status_code == 404
    assert api.patch(f"/api/posts/{post_id}", json={"title": "x"}).status_code == 404


def test_real_server_round_trip_with_feeds_read_back(api, live_server):
    session = requests.Session()
    session.headers.update(AUTH)
    created = session.post(
        f"{live_server}/api/feeds/news/posts",
        data=json.dumps({"title": "Over the wire", "content": "Hello ]]> there"}),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert created.status_code == 201
    post = created.json()
    assert created.headers["Location"].endswith(f"/api/posts/{post['id']}")
    for name in FEED_FILES:
        parsed = feedcheck.read_back(requests.get(f"{live_server}/news/{name}", timeout=5).content)
        assert [e.id for e in parsed.entries] == [post["guid"]]
    changed = session.patch(
        f"{live_server}/api/posts/{post['id']}", json={"title": "Renamed"}, timeout=5
    )
    assert changed.json()["title"] == "Renamed"
    feed = feedcheck.read_back(requests.get(f"{live_server}/news/atom.xml", timeout=5).content)
    assert feed.entries[0].title == "Renamed"
    assert session.delete(f"{live_server}/api/posts/{post['id']}", timeout=5).status_code == 204
    feed = feedcheck.read_back(requests.get(f"{live_server}/news/rss.xml", timeout=5).content)
    assert feed.entries == []
    assert requests.get(f"{live_server}/news/over-the-wire/", timeout=5).status_code == 410


def test_concurrent_creates_with_one_title_each_get_their_own_slug(api, live_server):
    """The loser of the race for a free slug takes the next one, not a 409."""
    writers = 6
    start = threading.Barrier(writers)

    def create(_: int) -> requests.Response:
        start.wait(timeout=10)
        body = {"title": "Same title"}
        url = f"{live_server}/api/feeds/news/posts"
        return requests.post(url, json=body, headers=AUTH, timeout=30)

    with ThreadPoolExecutor(writers) as pool:
        answers = list(pool.map(create, range(writers)))

    assert [answer.status_code for answer in answers] == [201] * writers
    slugs = sorted(answer.json()["slug"] for answer in answers)
    assert slugs == sorted(["same-title"] + [f"same-title-{n}" for n in range(2, writers + 1)])
    assert len(entries(api.client)) == writers


def test_a_numbered_slug_keeps_to_the_slug_limit(api):
    title = "word " * 60
    first, second = api.create(title=title), api.create(title=title)
    assert len(first["slug"]) <= 120 and first["slug"].startswith("word-word")
    assert len(second["slug"]) <= 120 and second["slug"].endswith("-2")
    assert api.client.get(f"/news/{second['slug']}/").status_code == 200


@pytest.mark.parametrize(
    ("field", "value"), [("season", 590913158724190), ("episode", 2**31), ("episode", 0)]
)
def test_an_episode_or_season_the_column_cannot_hold_is_a_field_error(api, field, value):
    """PostgreSQL's 32-bit column answered a 500 to a season of 590913158724190."""
    response = api.post("/api/feeds/news/posts", json={"title": "Show", field: value})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]
    assert api.get("/api/feeds/news/posts").get_json()["items"] == []
    good = api.post("/api/feeds/news/posts", json={"title": "Show", field: 2**31 - 1})
    assert good.status_code == 201 and good.get_json()[field] == 2**31 - 1
