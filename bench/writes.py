"""Concurrent writes benchmark (issue 9, item 6): do six writers go as fast as one?

    python bench/writes.py                      # SQLite, and PostgreSQL when
                                                # $SYNDICATOR_TEST_DATABASE_URL is set
    python bench/writes.py --postgres URL --writes 300

A real `syndicator serve` (waitress and the scheduler polling every second) is
started on a fresh database for each run, then the admin API and the public
subscribe form get the mixed writes of tests/write_load.py (create, edit and
delete posts, add subscribers and webhooks, subscribe through the form): once
from 1 client thread, once from 6 sharing the same total. Printed per run:
writes/s (total), p50 and p99 latency, and the answers that were not 2xx.
Target: 6 writers' total writes/s >= 1 writer's (ratio >= 1.0), and no 5xx.
PostgreSQL runs in a schema of its own, dropped afterwards. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests import write_load  # noqa: E402
from tests.server_process import serving  # noqa: E402

TOKEN = "bench-token"
WRITER_COUNTS = (1, 6)
COLUMNS = ("writes", "per_second", "p50_ms", "p99_ms", "server_errors", "not_2xx")


def content(folder: Path) -> Path:
    """Two feeds of one post each: the one written to, and the quiet one webhooks watch."""
    for feed in (write_load.FEED, write_load.QUIET_FEED):
        posts = folder / "feeds" / feed / "posts"
        posts.mkdir(parents=True)
        (folder / "feeds" / feed / "feed.toml").write_text(f'title = "{feed}"\n')
        (posts / "first.md").write_text("---\ntitle: First\ndate: 2026-01-01\n---\nText.\n")
    return folder / "feeds"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(database_url: str, writers: int, total: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp:
        folder = Path(tmp)
        config = write_load.config_text(
            database_url.replace("{tmp}", tmp), str(content(folder)), TOKEN
        )
        with serving(folder, config) as base:
            write_load.run(base, TOKEN, writers=1, writes=10, prefix="warm")  # connections, caches
            made, elapsed = write_load.run(base, TOKEN, writers=writers, writes=total // writers)
    seconds = sorted(made.seconds)
    return {
        "writes": len(seconds),
        "per_second": len(seconds) / elapsed,
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000,
        "server_errors": len(made.server_errors()),
        "not_2xx": len(made.unexpected()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--writes", type=int, default=240, help="total writes per run (default 240)"
    )
    parser.add_argument("--postgres", default=os.environ.get("SYNDICATOR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = [("sqlite", "sqlite:///{tmp}/bench.db")]
    backends.append(("postgresql", args.postgres))
    print("| database | writers | writes | writes/s | p50 ms | p99 ms | 5xx | not 2xx |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for name, url in backends:
        if not url:
            print(f"| {name} | skipped: no --postgres URL or $SYNDICATOR_TEST_DATABASE_URL |")
            continue
        rates = {}
        for writers in WRITER_COUNTS:
            if name == "postgresql":
                with postgres_schema(url) as schema_url:
                    result = measure(schema_url, writers, args.writes)
            else:
                result = measure(url, writers, args.writes)
            rates[writers] = result["per_second"]
            ok &= result["server_errors"] == 0
            cells = [name, writers, *(f"{result[key]:.0f}" for key in COLUMNS)]
            print("| " + " | ".join(str(cell) for cell in cells) + " |")
        ratio = rates[6] / rates[1]
        ok &= ratio >= 1.0
        verdict = "PASS" if ratio >= 1.0 else "FAIL"
        print(f"| {name} | ratio 6/1 | | **{ratio:.2f}** | | | | target >= 1.0: {verdict} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
