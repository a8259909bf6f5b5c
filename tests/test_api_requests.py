# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""The conventions every admin API route shares: bodies, errors, methods, never a 500."""

from __future__ import annotations

import pytest
from api_support import ADMIN, Api, api  # noqa: F401
from factories import import_folder

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token

CREATE = "/api/feeds/news/posts"


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"title": "a",}',
        b"",
        b'{"title": NaN}',
        b'{"title": "x", "n": ' + b"1" * 5000 + b"}",
        b'{"title": "caf\xe9"}',  # Latin-1, not UTF-8
        b"\xff\xfe{\x00}\x00",
    ],
)
def test_a_body_that_is_not_json_is_400(api, raw):
    error = error_of(api.post(CREATE, data=raw, content_type="application/json"), 400)
    assert "not valid JSON" in error["message"]
    assert api.get(CREATE).get_json()["items"] == []


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_422_whatever_the_depth(api, depth):
    raw = '{"title": "x", "tags": ' + "[" * depth + "]" * depth + "}"
    error = error_of(api.post(CREATE, data=raw, content_type="application/json"), 422)
    assert "body" in error["fields"]


@pytest.mark.parametrize("raw", [b"[]", b'"title"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_422(api, raw):
    error = error_of(api.post(CREATE, data=raw, content_type="application/json"), 422)
    assert error["fields"] == {"body": "must be a JSON object"}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_body_that_is_not_sent_as_json_is_415(api, content_type):
    response = api.post(CREATE, data=b'{"title": "x"}', content_type=content_type)
    assert "application/json" in error_of(response, 415)["message"]


def test_merge_patch_media_type_is_accepted_for_patch(api):
    post = api.create(title="Before")
    response = api.patch(
        f"/api/posts/{post['id']}",
        data=b'{"title": "After"}',
        content_type="application/merge-patch+json",
    )
    assert response.get_json()["title"] == "After"


def test_a_body_over_the_configured_limit_is_413_and_changes_nothing(make_core, blog):
    from syndicator.web import create_app

    blog.feed("news")
    core = make_core(admin={"max_body_bytes": 200})
    import_folder(core, blog.root)
    admin = Api(create_app(core=core).test_client())
    error_of(admin.post(CREATE, json={"title": "x" * 300}), 413)
    assert admin.post(CREATE, json={"title": "x" * 100}).status_code == 201
    assert len(admin.get(CREATE).get_json()["items"]) == 1


def test_the_default_limit_is_one_mebibyte(api):
    big = {"title": "Big", "content": "x" * (1024 * 1024)}
    assert error_of(api.post(CREATE, json=big), 413)["code"] == "request_entity_too_large"
    fits = {"title": "Fits", "content": "word " * 200_000}
    assert api.post(CREATE, json=fits).status_code == 201


@pytest.mark.parametrize(
    "method, path",
    [("put", "/api/posts/1"), ("post", "/api/posts/1"), ("delete", CREATE), ("put", CREATE)],
)
def test_a_wrong_method_is_405_in_json_with_allow(api, method, path):
    response = getattr(api, method)(path, json={})
    error_of(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path", ["/api/nowhere", "/api/posts/abc", "/api/posts/-1", "/api/feeds/news/posts/x", "/api"]
)
def test_unknown_api_paths_are_404_in_json_never_html(api, path):
    error_of(api.get(path), 404)


def test_numbers_and_objects_where_strings_belong_are_422_per_field(api):
    body = {"title": {"text": "x"}, "summary": 3.5, "author": ["a"], "slug": 7, "tags": [1, 2]}
    error = error_of(api.post(CREATE, json=body), 422)
    assert error["fields"] == {
        "title": "must be a string, not an object",
        "summary": "must be a string, not a number",
        "author": "must be a string, not a list",
        "slug": "must be a string, not a number",
        "tags": "must be a list of strings",
    }


def test_nul_in_a_query_is_422_before_it_reaches_the_database(api):
    error = error_of(api.get(CREATE + "?tag=a%00b&status=draft"), 422)
    assert error["fields"] == {"tag": "must not contain NUL characters"}
