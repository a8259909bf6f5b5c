"""A running `serve` whose PostgreSQL stops letting it in: warm feeds are still served,
everything else is the app's own 503, and every request is logged and counted.

The outage is real: the server logs in as a role of its own, which the test then
forbids to log in, ending its open connections.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from server_process import serving
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.web import create_app

TOKEN = "outage-test-token"
FEED_RULE = '/<feed>/<any(\\"atom.xml\\", \\"rss.xml\\", \\"feed.json\\"):filename>'  # escaped


class Role:
    """A PostgreSQL login role for one test, which the test can lock out."""

    def __init__(self, schema_url: str) -> None:
        admin_url = os.environ["SYNDICATOR_TEST_DATABASE_URL"]  # the postgres_url fixture needs it
        self.name = f"outage_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.schema = make_url(schema_url).query["options"].split("=", 1)[1]
        self.url = make_url(schema_url).set(username=self.name).render_as_string(False)

    def create(self) -> None:
        self.run(f'CREATE ROLE "{self.name}" LOGIN')
        self.run(f'GRANT ALL ON SCHEMA "{self.schema}" TO "{self.name}"')

    def lock_out(self) -> None:
        self.run(f'ALTER ROLE "{self.name}" NOLOGIN')
        self.run(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{self.name}'"
        )

    def let_in(self) -> None:
        self.run(f'ALTER ROLE "{self.name}" LOGIN')

    def drop(self) -> None:
        self.lock_out()
        self.run(f'DROP OWNED BY "{self.name}" CASCADE')
        self.run(f'DROP ROLE "{self.name}"')
        self.admin.dispose()

    def run(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))


@pytest.fixture
def role(postgres_url: str) -> Iterator[Role]:
    made = Role(postgres_url)
    made.create()
    try:
        yield made
    finally:
        made.drop()


def requests_counted(base: str, endpoint: str, status: str) -> float:
    """syndicator_http_requests_total{endpoint, status}, for a request whose method is GET."""
    body = requests.get(base + "/metrics", timeout=5).text
    for line in body.splitlines():
        if line.startswith("syndicator_http_requests_total{") and (
            f'endpoint="{endpoint}",method="GET",status="{status}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_warm_feeds_are_served_and_the_rest_is_a_503_while_the_database_is_away(
    tmp_path, blog, role
):
    blog.post("hello")
    config = (
        f'[storage]\ndatabase_url = "{role.url}"\ncontent_dir = "{blog.root}"\n'
        f'[admin]\ntoken = "{TOKEN}"\n[scheduler]\npoll_seconds = 1\n'
    )
    with serving(tmp_path, config) as base:
        warm = requests.get(base + "/news/atom.xml", timeout=5)
        assert warm.status_code == 200

        role.lock_out()
        time.sleep(0.6)  # past the version board's refresh interval
        answers = [requests.get(base + "/news/atom.xml", timeout=10) for _ in range(3)]
        page = requests.get(base + "/news/", timeout=10)
        cold_feed = requests.get(base + "/news/rss.xml", timeout=10)
        api = requests.get(
            base + "/api/feeds/news/posts",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        feed_200s = requests_counted(base, FEED_RULE, "200")
        feed_503s = requests_counted(base, FEED_RULE, "503")
        page_503s = requests_counted(base, "/<feed>/", "503")
        api_503s = requests_counted(base, "/api/feeds/<feed>/posts", "503")

        role.let_in()
        recovered = requests.get(base + "/news/", timeout=10)

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert {answer.content for answer in answers} == {warm.content}
    assert page.status_code == 503 and "text/html" in page.headers["Content-Type"]
    assert "<html" in page.text.lower() and "try again" in page.text.lower()
    assert cold_feed.status_code == 503
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "unavailable"
    assert page.headers.get("Retry-After")
    assert (feed_200s, feed_503s, page_503s, api_503s) == (4, 1, 1, 1)
    assert recovered.status_code == 200
    log = (tmp_path / "serve.log").read_text()
    assert '"GET /news/" 503' in log and '"GET /news/rss.xml" 503' in log
    assert '"GET /api/feeds/news/posts" 503' in log
    assert log.count("feed versions cannot be refreshed") == 1


def test_a_database_that_never_answered_gets_the_503_page_for_feeds_too(tmp_path):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2"
    config = config_module.from_mapping(
        {"storage": {"database_url": unreachable}, "admin": {"token": TOKEN}},
        base_dir=tmp_path,
        env={},
    )
    core = core_module.build(config)
    try:
        client = create_app(core=core).test_client()
        feed = client.get("/news/atom.xml")
        api = client.get("/api/posts/1", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        core.close()
    assert feed.status_code == 503 and "Temporarily unavailable" in feed.text
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
