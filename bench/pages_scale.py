"""Pages and feeds at scale (issue 11): what one request costs at 1k, 10k and 100k posts.

    python bench/pages_scale.py                 # 1k and 10k posts, SQLite (and PostgreSQL
                                                # when SYNDICATOR_TEST_DATABASE_URL is set)
    python bench/pages_scale.py --full          # adds 100k posts (about 15 minutes a database)
    python bench/pages_scale.py --sizes 1000 3000 --databases sqlite

Each size gets a generated blog written straight into a fresh database (2-5 KB of
Markdown a post, 1-3 of 50 tags, dates over 15 years, a few scheduled posts),
inserted at schema 0005 and then migrated to the newest schema, so the same script
measures older code too (run it with PYTHONPATH at an older tree). The app is the one
`syndicator web` builds, on a fixed clock, called in this process through WSGI:

- cold: the render cache emptied, then one request (the median of 5);
- warm: the same request again, cache warm (the median of 100).

Page 1, a middle page and the last page of the feed, a tag's feed (first and last
page), the home page, the last HTML list page and a post page. It prints each
figure per size and the ratio of the largest size to the smallest against the
targets (warm <= 1.2x, cold <= 1.5x), and a digest of every body, which must not
change between code versions for the same data. On PostgreSQL it works in a schema
of its own and drops it afterwards. Exits 1 when a target is missed, but it is a
benchmark, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.test import EnvironBuilder, run_wsgi_app

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.feeds.cache import RenderCache
from syndicator.web import create_app

FEED, PER_PAGE, TAGS = "bench", 20, [f"topic-{n:02d}" for n in range(50)]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULED = 5
WORDS = ["river", "boat", "morning", "weather", "harbour", "crew", "rope", "north", "wind"]
WORDS += ["sail", "tide", "light", "evening", "island", "chart", "stone", "bridge", "ferry"]
TARGETS = {"warm": 1.2, "cold": 1.5}
COLD_RUNS, WARM_RUNS = 5, 100


def posts(count: int) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """`count` posts (and their tags), the same every run."""
    chance = random.Random(count)
    span = timedelta(days=15 * 365).total_seconds()
    for number in range(1, count + SCHEDULED + 1):
        if number > count:  # a few scheduled posts, invisible at NOW
            at = NOW + timedelta(days=number - count)
        else:
            at = NOW - timedelta(seconds=chance.uniform(1, span))
        paragraphs = [
            " ".join(chance.choice(WORDS) for _ in range(chance.randint(60, 90)))
            for _ in range(chance.randint(4, 8))
        ]
        markdown = "\n\n".join(paragraphs)
        html = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
        yield (
            {
                "id": number,
                "feed_slug": FEED,
                "guid": f"urn:uuid:{uuid.UUID(int=number)}",
                "slug": f"post-{number}",
                "title": f"Post {number}",
                "content_source": markdown,
                "content_html": html,
                "status": "published",
                "published_at": at,
                "updated_at": at,
                "went_live_at": at if at <= NOW else None,
                "first_live_at": at if at <= NOW else None,
                "source": "api",
                "created_at": at,
            },
            chance.sample(TAGS, chance.randint(1, 3)),
        )


def generate(url: str, count: int) -> None:
    """The blog, inserted at schema 0005 and migrated to the newest."""
    engine = db.make_engine(url)
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0005")
    tables = MetaData()
    tables.reflect(engine, only=["feeds", "posts", "post_tags"])
    feeds, post_rows, tag_rows = (tables.tables[n] for n in ("feeds", "posts", "post_tags"))
    with engine.begin() as connection:
        connection.execute(
            feeds.insert(),
            {"slug": FEED, "title": "Bench", "version": 1, "changed_at": NOW, "created_at": NOW},
        )
        batch: list[tuple[dict[str, Any], list[str]]] = []
        for item in posts(count):
            batch.append(item)
            if len(batch) == 2000:
                _insert(connection, post_rows, tag_rows, batch)
                batch = []
        _insert(connection, post_rows, tag_rows, batch)
    db.upgrade(engine)
    engine.dispose()


def _insert(connection: Any, post_rows: Any, tag_rows: Any, batch: list[Any]) -> None:
    if not batch:
        return
    connection.execute(post_rows.insert(), [row for row, _tags in batch])
    connection.execute(
        tag_rows.insert(),
        [
            {"post_id": row["id"], "tag_slug": tag, "name": tag, "position": position}
            for row, tags in batch
            for position, tag in enumerate(tags)
        ],
    )


@functools.cache
def paths(count: int) -> dict[str, str]:
    last = -(-count // PER_PAGE)
    tagged = next(tags for row, tags in posts(count) if row["id"] == count // 2)[0]
    tag_last = -(-sum(tagged in tags for _row, tags in posts(count)) // PER_PAGE)
    return {
        "feed page 1": f"/{FEED}/atom.xml",
        "feed middle": f"/{FEED}/page/{last // 2}/atom.xml",
        "feed last": f"/{FEED}/page/{last}/atom.xml",
        "tag feed page 1": f"/{FEED}/tags/{tagged}/atom.xml",
        "tag feed last": f"/{FEED}/tags/{tagged}/page/{tag_last}/atom.xml",
        "home": "/",
        "HTML list last": f"/{FEED}/page/{last}/",
        "post page": f"/{FEED}/post-{count // 2}/",
    }


def app_for(url: str) -> tuple[Any, core_module.Core]:
    """The app `syndicator web` builds, on the fixed clock."""
    data = {
        "storage": {"database_url": url, "content_dir": tempfile.mkdtemp()},
        "site": {"default_feed": FEED},
    }
    config = config_module.from_mapping(data, source="bench", base_dir=Path.cwd(), env={})
    core = core_module.build(config, clock=lambda: NOW)
    return create_app(core=core), core


def measure(urls: dict[int, str]) -> dict[int, tuple[dict[str, tuple[float, float]], str]]:
    """Per size: (cold, warm) seconds per page, and a digest of every body.

    The sizes take turns within each round, so a busy moment of the machine
    falls on all of them alike.
    """
    apps = {count: app_for(url) for count, url in urls.items()}
    results: dict[int, tuple[dict[str, tuple[float, float]], str]] = {}
    for count, (app, _core) in apps.items():
        digest = hashlib.sha256()
        for path in paths(count).values():
            digest.update(_get(app, _environ(path)))
        results[count] = ({}, digest.hexdigest()[:16])
    for name in paths(min(urls)):
        cold: dict[int, list[float]] = {count: [] for count in urls}
        warm: dict[int, list[float]] = {count: [] for count in urls}
        for _round in range(COLD_RUNS):
            for count, (app, core) in apps.items():
                environ = _environ(paths(count)[name])
                core.cache = RenderCache()
                cold[count].append(_timed(app, environ))
                warm[count] += [_timed(app, environ) for _ in range(WARM_RUNS // COLD_RUNS)]
        for count in urls:
            results[count][0][name] = (
                statistics.median(cold[count]),
                statistics.median(warm[count]),
            )
    for _app, core in apps.values():
        core.close()
    return results


def _environ(path: str) -> dict[str, Any]:
    environ: dict[str, Any] = EnvironBuilder(path=path, headers=[("Accept", "*/*")]).get_environ()
    return environ


def _get(app: Any, environ: dict[str, Any]) -> bytes:
    body, status, _headers = run_wsgi_app(app, dict(environ))
    content = b"".join(body)
    assert status.startswith("200"), (environ["PATH_INFO"], status)
    return content


def _timed(app: Any, environ: dict[str, Any]) -> float:
    started = time.perf_counter()
    _get(app, environ)
    return time.perf_counter() - started


@contextmanager
def database(kind: str, workdir: Path, count: int) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{count}.db'}"
        return
    base = os.environ["SYNDICATOR_TEST_DATABASE_URL"]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def report(kind: str, sizes: list[int], results: dict[int, Any]) -> bool:
    small, large = sizes[0], sizes[-1]
    print(f"\n{kind}: cold render (ms) and warm request (µs), median; ratio {large:,} / {small:,}")
    head = " | ".join(f"{size:,} cold | {size:,} warm" for size in sizes)
    print(f"| page | {head} | cold x | warm x |")
    print("|---" * (2 * len(sizes) + 3) + "|")
    passed = True
    for name in results[small][0]:
        cells = " | ".join(
            f"{results[s][0][name][0] * 1e3:.2f} | {results[s][0][name][1] * 1e6:.0f}"
            for s in sizes
        )
        ratios = [results[large][0][name][i] / results[small][0][name][i] for i in (0, 1)]
        verdicts = [r <= TARGETS[t] for r, t in zip(ratios, ("cold", "warm"), strict=True)]
        passed = passed and all(verdicts)
        marks = [
            f"{r:.2f} {'PASS' if ok else 'FAIL'}" for r, ok in zip(ratios, verdicts, strict=True)
        ]
        print(f"| {name} | {cells} | {marks[0]} | {marks[1]} |")
    print("body digests: " + ", ".join(f"{s:,}: {results[s][1]}" for s in sizes))
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="add 100,000 posts")
    parser.add_argument("--sizes", type=int, nargs="+", help="post counts (default 1000 10000)")
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"])
    options = parser.parse_args()
    sizes = options.sizes or [1000, 10000] + ([100000] if options.full else [])
    kinds = options.databases or ["sqlite"] + (
        ["postgresql"] if os.environ.get("SYNDICATOR_TEST_DATABASE_URL") else []
    )
    passed = True
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        for kind in kinds:
            with ExitStack() as stack:
                urls = {}
                for count in sizes:
                    urls[count] = stack.enter_context(database(kind, Path(folder), count))
                    started = time.perf_counter()
                    generate(urls[count], count)
                    took = time.perf_counter() - started
                    print(f"{kind} {count:,} posts: generated and migrated in {took:.1f} s")
                passed = report(kind, sizes, measure(urls)) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
