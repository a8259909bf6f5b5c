"""Shared fixtures: real SQLite files, the real PostgreSQL, an injected clock.

PostgreSQL tests run when SYNDICATOR_TEST_DATABASE_URL is set (CI sets it) and
are skipped otherwise, so a newcomer's plain `pytest` passes. Each PostgreSQL
test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.posts import importer

PG_URL = os.environ.get("SYNDICATOR_TEST_DATABASE_URL")
# `python -m syndicator` in a test's child process imports this tree, not whichever
# checkout the environment has installed.
_ROOT = str(Path(__file__).parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))


class FakeClock:
    """A clock tests move by hand instead of sleeping or patching datetime."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that uses this runs once on an SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syndicator.db'}"
        return
    if not PG_URL:
        pytest.skip("SYNDICATOR_TEST_DATABASE_URL is not set")
    yield from _postgres_schema()


@pytest.fixture
def postgres_url() -> Iterator[str]:
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


@pytest.fixture
def make_config(tmp_path: Path, database_url: str, blog: Blog) -> Callable[..., Any]:
    """Config for one test: its own database and content folder; sections overridable."""

    def make(**sections: dict[str, Any]) -> config_module.Config:
        data: dict[str, Any] = {
            "storage": {"database_url": database_url, "content_dir": str(blog.root)},
            "email": {"maildir": str(tmp_path / "mail")},
        }
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
        return config_module.from_mapping(data, source="test", base_dir=tmp_path, env={})

    return make


@pytest.fixture
def make_core(
    make_config: Callable[..., Any], clock: FakeClock
) -> Iterator[Callable[..., core_module.Core]]:
    """Build a migrated Core on the test's database with overridden config sections."""
    built: list[core_module.Core] = []

    def make(**sections: dict[str, Any]) -> core_module.Core:
        instance = core_module.build(make_config(**sections), clock=clock)
        db.upgrade(instance.engine)
        built.append(instance)
        return instance

    yield make
    for instance in built:
        instance.close()


@pytest.fixture
def core(make_core: Callable[..., core_module.Core]) -> core_module.Core:
    return make_core()


def import_folder(core: core_module.Core, folder: Path) -> importer.SyncReport:
    with core.transaction() as session:
        return importer.sync(session, folder, core.timezone, core.now())


@pytest.fixture
def sync(core: core_module.Core, blog: Blog) -> Callable[[], importer.SyncReport]:
    """Import the test's content folder now."""

    return lambda: import_folder(core, blog.root)


@pytest.fixture
def app(core: core_module.Core) -> Any:
    from syndicator.web import create_app

    return create_app(core=core)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
