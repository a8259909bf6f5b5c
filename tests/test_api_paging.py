# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Every list route pages the same way: keyset cursors, and 400 for a cursor it never gave out."""

from __future__ import annotations

import base64
import json

import pytest
from api_support import ADMIN, api  # noqa: F401

from syndicator.models import MAX_ID
from syndicator.webhooks import endpoints

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TAMPERED = [
    "%%%",  # not base64 at all
    "²",  # not ASCII
    _b64("²"),  # base64 of something that is not a cursor
    _b64("9" * 30),  # the shape of an old offset cursor
    _b64("[]"),
    _b64('{"id": 1}'),
    _b64(json.dumps([MAX_ID + 1])),  # an id no database column holds
    _b64(json.dumps([True])),
    _b64(json.dumps(["2026-01-01T00:00:00", 5])),  # a time without its zone
    _b64(json.dumps(["0001-01-01T00:00:00+05:00", 5])),
    _b64("[" * 5000),
]


@pytest.fixture
def list_routes(api, core) -> list[str]:
    """Every list route of the admin API, each with at least one item."""
    api.create(title="A post")
    with core.transaction() as session:
        hook = endpoints.create(
            session, {"url": "http://127.0.0.1:9/"}, now=core.now(), allow_private=True
        )
    api.post("/api/subscribers", json={"email": "ann@example.org", "feed": "news"})
    return [
        "/api/feeds/news/posts",
        "/api/webhooks",
        f"/api/webhooks/{hook.id}/deliveries",
        "/api/subscribers",
    ]


@pytest.mark.parametrize("cursor", TAMPERED, ids=[f"tampered-{n}" for n in range(len(TAMPERED))])
def test_a_tampered_cursor_is_400_with_the_error_body_on_every_list(api, list_routes, cursor):
    for route in list_routes:
        response = api.get(route, query_string={"cursor": cursor})
        assert response.status_code == 400, (route, response.get_data(as_text=True)[:200])
        error = response.get_json()["error"]
        assert error["code"] == "bad_request", route
        assert error["fields"] == {"cursor": "is not a cursor this API gave out"}, route


def test_a_cursor_of_one_list_is_refused_by_a_list_sorted_otherwise(api, list_routes):
    api.create(title="Another post")
    post_cursor = api.get("/api/feeds/news/posts?limit=1").get_json()["next_cursor"]
    assert post_cursor is not None
    for route in list_routes[1:]:
        assert api.get(route, query_string={"cursor": post_cursor}).status_code == 400, route


def test_every_list_walks_its_items_once_by_cursor(api, core):
    for number in range(5):
        api.create(title=f"Post {number}")
        api.post("/api/subscribers", json={"email": f"r{number}@example.org", "feed": "news"})
        with core.transaction() as session:
            endpoints.create(
                session, {"url": f"http://127.0.0.1:9/{number}"}, now=core.now(), allow_private=True
            )
    for route in ("/api/feeds/news/posts", "/api/webhooks", "/api/subscribers"):
        seen, cursor = [], None
        while True:
            page = api.get(
                route, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
            body = page.get_json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5, route


def test_every_resource_shows_times_in_one_format(api, core, clock):
    """RFC 3339 UTC, whole seconds, Z: even when the clock has microseconds."""
    clock.advance(microseconds=992648)
    post = api.create(title="Timed")
    subscriber = api.post(
        "/api/subscribers", json={"email": "ann@example.org", "feed": "news", "confirmed": True}
    ).get_json()
    with core.transaction() as session:
        hook = endpoints.create(
            session, {"url": "http://127.0.0.1:9/"}, now=core.now(), allow_private=True
        )
    endpoint = api.get(f"/api/webhooks/{hook.id}").get_json()
    stamp = "2026-11-26T12:00:00Z"
    assert (post["published"], post["created"], post["updated"]) == (stamp, stamp, stamp)
    assert (subscriber["created_at"], subscriber["confirmed_at"]) == (stamp, stamp)
    assert (endpoint["created_at"], endpoint["updated_at"]) == (stamp, stamp)
