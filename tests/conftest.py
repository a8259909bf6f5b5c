"""Shared fixtures: real SQLite files, the real PostgreSQL, an injected clock, factories.

PostgreSQL tests run when SYNDICATOR_TEST_DATABASE_URL is set (CI sets it) and
are skipped otherwise, so a newcomer's plain `pytest` passes. Each PostgreSQL
test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import factories
import pytest
import yaml
from factories import DNSLookupInTest, FakeClock, build_core, import_folder, is_local_name
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.models import Subscriber, WebhookEndpoint
from syndicator.posts import importer

PG_URL = os.environ.get("SYNDICATOR_TEST_DATABASE_URL")
# `python -m syndicator` in a test's child process imports this tree, not whichever
# checkout the environment has installed.
_ROOT = str(Path(__file__).parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="session", autouse=True)
def no_dns() -> Iterator[None]:
    """Fail loudly on any name look-up beyond localhost and IP literals (no DNS in tests)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_name(host):
            raise DNSLookupInTest(f"a test tried to resolve {host!r}; inject a resolver")
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that uses this runs once on an SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syndicator.db'}"
        return
    yield from _postgres_schema_or_skip()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_schema_or_skip()


@pytest.fixture
def other_postgres_url() -> Iterator[str]:
    """A second schema of the same database: another installation beside the test's."""
    yield from _postgres_schema_or_skip()


def _postgres_schema_or_skip() -> Iterator[str]:
    """Without a PostgreSQL to test against (a newcomer's plain `pytest`) the test skips."""
    if not PG_URL:
        pytest.skip("SYNDICATOR_TEST_DATABASE_URL is not set")
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    assert PG_URL is not None
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class Blog:
    """A content folder on disk that tests write posts into."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def feed(self, slug: str = "news", **settings: Any) -> Path:
        folder = self.root / slug
        (folder / "posts").mkdir(parents=True, exist_ok=True)
        settings.setdefault("title", f"{slug.title()} Feed")
        lines = [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
        (folder / "feed.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return folder

    def post(
        self, name: str, body: str = "Some text.", *, feed: str = "news", **front: Any
    ) -> Path:
        if not (self.root / feed / "feed.toml").exists():
            self.feed(feed)
        front.setdefault("title", name.replace("-", " ").title())
        front.setdefault("date", "2026-01-01T09:00:00Z")
        path = self.root / feed / "posts" / f"{name}.md"
        header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
        path.write_text(f"---\n{header}---\n\n{body}\n", encoding="utf-8")
        return path

    def raw(self, name: str, content: bytes, *, feed: str = "news") -> Path:
        if not (self.root / feed / "feed.toml").exists():
            self.feed(feed)
        path = self.root / feed / "posts" / f"{name}.md"
        path.write_bytes(content)
        return path


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def blog(tmp_path: Path) -> Blog:
    root = tmp_path / "feeds"
    root.mkdir()
    return Blog(root)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "config(**sections): config sections every core of the marked tests starts from",
    )


@pytest.fixture
def make_config(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, blog: Blog
) -> Callable[..., config_module.Config]:
    """Config for one test: its own database and content folder; sections overridable.

    A `config` marker on the test or its module (`pytestmark = pytest.mark.config(
    admin={"token": TOKEN})`) sets sections for every config the test makes;
    keyword arguments override them again.
    """
    marker = request.node.get_closest_marker("config")
    preset: dict[str, dict[str, Any]] = dict(marker.kwargs) if marker else {}

    def make(**sections: dict[str, Any]) -> config_module.Config:
        data: dict[str, Any] = {
            "storage": {"database_url": database_url, "content_dir": str(blog.root)},
            "email": {"maildir": str(tmp_path / "mail")},
        }
        for layer in (preset, sections):
            for name, values in layer.items():
                data[name] = {**data.get(name, {}), **values}
        return config_module.from_mapping(data, source="test", base_dir=tmp_path, env={})

    return make


@pytest.fixture
def make_core(
    make_config: Callable[..., config_module.Config], clock: FakeClock
) -> Iterator[Callable[..., core_module.Core]]:
    """Build a migrated Core on the test's database with overridden config sections.

    Every core a test builds comes from here (or, outside a fixture's reach, from
    `factories.build_core`), and is closed when the test ends.
    """
    built: list[core_module.Core] = []

    def make(**sections: dict[str, Any]) -> core_module.Core:
        instance = build_core(make_config(**sections), clock)
        built.append(instance)
        return instance

    yield make
    for instance in built:
        instance.close()


@pytest.fixture
def core(make_core: Callable[..., core_module.Core]) -> core_module.Core:
    return make_core()


@pytest.fixture
def sync(core: core_module.Core, blog: Blog) -> Callable[[], importer.SyncReport]:
    """Import the test's content folder now."""

    return lambda: import_folder(core, blog.root)


def _on_test_core(request: pytest.FixtureRequest, add: Callable[..., Any]) -> Callable[..., Any]:
    """`add` bound to the test's `core`, or to the core passed as `core=`.

    The test's core is only built when used, so tests that make their own cores
    with `make_core(...)` do not pay for one more. The fixtures below take
    `database_url` only so that a test using them runs on both databases, which
    also lets the lazy `core` find its parameter.
    """

    def make(*args: Any, core: core_module.Core | None = None, **overrides: Any) -> Any:
        return add(core or request.getfixturevalue("core"), *args, **overrides)

    return make


@pytest.fixture
def make_feed(request: pytest.FixtureRequest, database_url: str) -> Callable[..., str]:
    """`make_feed(slug="news", title=..., core=...)`: a feed row; its slug."""
    return _on_test_core(request, factories.add_feed)


@pytest.fixture
def make_post(request: pytest.FixtureRequest, database_url: str) -> Callable[..., int]:
    """`make_post(title="A post", feed="news", **post_data, core=...)`: a post, live now; its id."""
    return _on_test_core(request, factories.add_post)


@pytest.fixture
def make_endpoint(
    request: pytest.FixtureRequest, database_url: str
) -> Callable[..., WebhookEndpoint]:
    """`make_endpoint(url=..., **fields, core=...)`: a webhook endpoint, private targets allowed."""
    return _on_test_core(request, factories.add_endpoint)


@pytest.fixture
def make_subscriber(request: pytest.FixtureRequest, database_url: str) -> Callable[..., Subscriber]:
    """`make_subscriber(email=..., feed=..., frequency=..., confirmed=True, core=...)`."""
    return _on_test_core(request, factories.add_subscriber)


@pytest.fixture
def app(core: core_module.Core) -> Any:
    from syndicator.web import create_app

    return create_app(core=core)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
