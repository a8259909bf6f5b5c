"""Helpers for the admin API tests: an authorised client and a real server on 127.0.0.1.

Test modules import the fixtures they use (`from api_support import api`) and say
that their cores have the admin token: `pytestmark = pytest.mark.config(admin=ADMIN)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

TOKEN = "s3cret-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"token": TOKEN}  # the [admin] section of every API test's config


class Api:
    """The Flask test client with the admin token on every request."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self.client, method)

        def with_token(path: str, **kwargs: Any) -> Any:
            kwargs["headers"] = {**AUTH, **kwargs.get("headers", {})}
            return call(path, **kwargs)

        return with_token

    def create(self, feed: str = "news", **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", "A post")
        response = self.post(f"/api/feeds/{feed}/posts", json=fields)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def api(client: Any, blog: Any, sync: Callable[[], Any]) -> Api:
    """An authorised client of a site with one empty feed, `news`."""
    blog.feed("news")
    sync()
    return Api(client)


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app behind a real HTTP server on a free port; its base URL. Stopped after."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
