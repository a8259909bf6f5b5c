# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""Who may use the admin API: the bearer token matrix, and tokens kept out of logs."""

from __future__ import annotations

import logging

import pytest
import requests
from api_support import ADMIN, AUTH, TOKEN, Api, api, live_server  # noqa: F401

from syndicator import config as config_module
from syndicator.web import create_app

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token

ROUTES = [
    ("get", "/api/feeds/news/posts"),
    ("post", "/api/feeds/news/posts"),
    ("get", "/api/posts/1"),
    ("patch", "/api/posts/1"),
    ("delete", "/api/posts/1"),
]


@pytest.fixture
def no_token_client(make_core, blog):
    return create_app(core=make_core(admin={"token": ""})).test_client()


@pytest.mark.parametrize("method, path", ROUTES)
def test_without_a_configured_token_every_route_is_403_saying_how_to_set_one(
    no_token_client, method, path
):
    response = getattr(no_token_client, method)(path, headers=AUTH, json={"title": "x"})
    assert response.status_code == 403
    message = response.get_json()["error"]["message"]
    assert "[admin] token" in message and "SYNDICATOR_ADMIN_TOKEN" in message


def test_the_openapi_document_is_public_even_without_a_token(no_token_client):
    response = no_token_client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "3.1.0"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer \u00e9t\u00e9",
    ],
)
@pytest.mark.parametrize("method, path", ROUTES)
def test_missing_or_wrong_token_is_401_with_www_authenticate(api, method, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = getattr(api.client, method)(path, headers=headers, json={"title": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_the_right_token_is_let_in_whatever_the_scheme_case(api):
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {TOKEN}"}
        assert api.client.get("/api/feeds/news/posts", headers=headers).status_code == 200


def test_token_from_the_environment_works(tmp_path, blog):
    blog.feed("news")
    config = config_module.from_mapping(
        {
            "storage": {
                "database_url": f"sqlite:///{tmp_path / 'env.db'}",
                "content_dir": str(blog.root),
            }
        },
        env={"SYNDICATOR_ADMIN_TOKEN": "from-the-environment"},
    )
    client = create_app(config).test_client()
    headers = {"Authorization": "Bearer from-the-environment"}
    assert client.get("/api/posts/1", headers=headers).status_code == 404
    assert client.get("/api/posts/1", headers=AUTH).status_code == 401


def test_tokens_never_reach_the_logs(api, live_server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Bearer not-the-token-but-secret-too"
    session = requests.Session()
    created = session.post(
        f"{live_server}/api/feeds/news/posts", json={"title": "Logged"}, headers=AUTH, timeout=5
    )
    assert created.status_code == 201
    session.get(f"{live_server}/api/posts/1", headers={"Authorization": wrong}, timeout=5)
    session.get(f"{live_server}/api/nowhere", headers=AUTH, timeout=5)
    Api(api.client).patch("/api/posts/1", data=b"{", content_type="application/json")
    assert "/api/feeds/news/posts" in caplog.text  # the requests were logged...
    assert TOKEN not in caplog.text  # ...without the tokens
    assert "not-the-token" not in caplog.text
