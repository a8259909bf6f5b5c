# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""HTML pages rendered once per feed version, like feeds: answered warm with validators,
and still showing every change at once in this process, within a second from another,
and scheduled posts exactly when they come due."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from api_support import ADMIN, AUTH, api, live_server  # noqa: F401  (fixtures)
from factories import add_post, import_folder
from server_process import serving
from test_listing import recounted, stored_counts, tag_copies_agree

pytestmark = pytest.mark.config(admin=ADMIN, site={"default_feed": "news"})


def renders(core: Any, kind: str) -> float:
    return core.metrics.feed_renders.labels(kind)._value.get()


def test_pages_render_once_per_version_and_a_change_shows_at_once(api, core: Any) -> None:
    api.create(title="First", tags=["tips"])
    for path in ("/news/", "/", "/news/tags/tips/", "/news/first/") * 3:
        assert api.get(path).status_code == 200
    assert renders(core, "html") == 2  # the home page is the feed's first page
    assert renders(core, "post") == 1
    assert api.get("/").data == api.get("/news/").data

    api.create(title="Second", tags=["tips"])
    assert b"Second" in api.get("/news/").data
    assert b"Second" in api.get("/news/tags/tips/").data
    assert renders(core, "html") == 4


def test_a_page_has_validators_answers_304_and_head(api) -> None:
    api.create(title="First")
    for path in ("/news/", "/news/first/"):
        page = api.get(path)
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Cache-Control"] == "no-cache"
        assert "Vary" not in page.headers
        again = api.get(path, headers={"If-None-Match": page.headers["ETag"]})
        assert (again.status_code, again.data) == (304, b"")
        since = api.get(path, headers={"If-Modified-Since": page.headers["Last-Modified"]})
        assert since.status_code == 304
        head = api.head(path)
        assert (head.status_code, head.data, head.headers["ETag"]) == (
            200,
            b"",
            page.headers["ETag"],
        )


def test_a_scheduled_post_shows_on_warm_pages_when_due_with_no_write(api, clock: Any) -> None:
    api.create(title="Now", tags=["tips"])
    due = clock() + timedelta(minutes=5)
    api.create(title="Soon", tags=["tips"], published=due.isoformat())
    for path in ("/news/", "/news/tags/tips/"):
        assert b"Soon" not in api.get(path).data
    assert api.get("/news/soon/").status_code == 404

    clock.advance(minutes=5)
    for path in ("/news/", "/news/tags/tips/"):
        assert b"Soon" in api.get(path).data, path
    assert api.get("/news/soon/").status_code == 200


def test_a_post_coming_due_moves_the_last_modified_of_every_page(
    make_core: Any, make_feed: Any, make_post: Any, clock: Any
) -> None:
    """A reader who asks with If-Modified-Since alone must not get a 304 for a page
    whose posts moved when a scheduled post came due, with no write."""
    from syndicator.web import create_app

    core = make_core(feeds={"items": 1})
    make_feed(core=core)
    for day in (1, 2):
        make_post(f"Day {day}", core=core, published_at=datetime(2026, 1, day, tzinfo=UTC))
    make_post("Soon", core=core, published_at=clock() + timedelta(minutes=5))
    client = create_app(core=core).test_client()
    paths = ("/news/page/2/", "/news/page/2/atom.xml")
    before = {
        path: {"If-Modified-Since": client.get(path).headers["Last-Modified"]} for path in paths
    }
    assert [client.get(path, headers=before[path]).status_code for path in paths] == [304, 304]
    clock.advance(minutes=5)
    assert [client.get(path, headers=before[path]).status_code for path in paths] == [200, 200]


def test_a_change_from_another_process_shows_on_a_running_server_within_a_second(
    tmp_path: Any, blog: Any, database_url: str, make_core: Any
) -> None:
    hello = blog.post("hello", tags=["tips"])
    config = (
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{blog.root}"\n'
        '[site]\ndefault_feed = "news"\n'
    )
    with serving(tmp_path, config) as base:
        for path in ("/", "/news/", "/news/tags/tips/", "/news/hello/"):
            assert requests.get(base + path, timeout=5).status_code == 200
        hello.unlink()
        blog.post("from-elsewhere", title="From elsewhere", tags=["tips"], date="2026-02-01")
        import_folder(make_core(), blog.root)  # an import in this test's process
        wanted = {
            "/": "From elsewhere",
            "/news/": "From elsewhere",
            "/news/tags/tips/": "From elsewhere",
        }
        deadline = time.monotonic() + 1.0
        while not _all_shown(base, wanted) or _status(base, "/news/hello/") != 410:
            assert time.monotonic() < deadline, "the other process's change was not served in 1 s"
            time.sleep(0.05)


def _all_shown(base: str, wanted: dict[str, str]) -> bool:
    return all(text in requests.get(base + path, timeout=5).text for path, text in wanted.items())


def _status(base: str, path: str) -> int:
    return requests.get(base + path, timeout=5).status_code


def test_counts_stay_right_under_concurrent_writers_on_a_running_server(
    api,
    live_server,
    core: Any,
    make_core: Any,
) -> None:
    """Four API clients create, unpublish, re-date, re-tag and delete posts while another
    process (a core of its own) creates more; afterwards the counts equal the posts."""
    other = make_core()
    failures: list[BaseException] = []

    def editor(number: int) -> None:
        chance = random.Random(number)
        with requests.Session() as session:
            session.headers.update(AUTH)
            for step in range(12):
                created = session.post(
                    f"{live_server}/api/feeds/news/posts",
                    json={
                        "title": f"Editor {number} post {step}",
                        "tags": chance.sample(["a", "b", "c", "d"], 2),
                        "published": _day(chance).isoformat(),
                    },
                    timeout=30,
                )
                assert created.status_code == 201, created.text
                url = f"{live_server}/api/posts/{created.json()['id']}"
                change = chance.choice(
                    [{"status": "draft"}, {"published": _day(chance).isoformat()}, {"tags": ["e"]}]
                )
                assert session.patch(url, json=change, timeout=30).status_code == 200
                if step % 3 == 0:
                    assert session.delete(url, timeout=30).status_code == 204

    def importer() -> None:
        for step in range(12):
            add_post(
                other, f"Elsewhere {step}", tags=("a",), published_at=_day(random.Random(step))
            )

    def run(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(editor, n)) for n in range(4)]
    threads.append(threading.Thread(target=run, args=(importer,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stored_counts(core) == recounted(core)
    assert tag_copies_agree(core)


def _day(chance: random.Random) -> datetime:
    """A moment in the last two years, often on one of a few shared days."""
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=chance.randrange(0, 17000, 7))
