"""Concurrent writes benchmark (issue 9, item 6): do six writers go as fast as one?

    python bench/writes.py                      # SQLite, and PostgreSQL when
                                                # $SYNDICATOR_TEST_DATABASE_URL is set
    python bench/writes.py --postgres URL --rounds 10

A real `syndicator serve` (waitress and the scheduler polling every second) is
started on a fresh database per backend; the admin API and the public
subscribe form get the mixed writes of tests/write_load.py (create, edit and
delete posts, add subscribers and webhooks, subscribe through the form) in
interleaved rounds: 1 client thread, then 6 sharing the same number of writes
(order alternating between rounds, so both see the same database size and
the same neighbours on the machine). Printed: total writes/s, p50 and p99
latency over all rounds, answers that were not 2xx, and the median of the
per-round ratios of 6 writers' to 1 writer's writes/s (range in brackets).
Target: ratio >= 1.0 and no 5xx. PostgreSQL runs in a schema of its own,
dropped afterwards. Exits 1 when a target is missed.
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
sys.path.insert(0, str(ROOT / "tests"))  # the write mix and the server runner the tests use

import write_load  # noqa: E402
from server_process import serving  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

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


@contextmanager
def database(name: str, postgres: str | None, folder: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    assert postgres
    with postgres_schema(postgres) as url:
        yield url


def rounds(database_url: str, folder: Path, args: argparse.Namespace) -> dict[int, write_load.Made]:
    """Interleaved rounds of 1 and of 6 writers on one server: what each kind made, merged
    (`elapsed` keeps every round's wall-clock seconds)."""
    config = write_load.config_text(database_url, str(content(folder)), TOKEN)
    made = {writers: write_load.Made() for writers in WRITER_COUNTS}
    with serving(folder, config) as base:
        write_load.run(base, TOKEN, writers=1, writes=10, prefix="warm")  # connections, caches
        for number in range(args.rounds):
            order = WRITER_COUNTS if number % 2 == 0 else WRITER_COUNTS[::-1]
            for writers in order:
                result = write_load.run(
                    base,
                    TOKEN,
                    writers=writers,
                    writes=args.writes // writers,
                    prefix=f"r{number}x{writers}w",
                )
                made[writers].merge(result)
    return made


def summary(made: write_load.Made) -> dict[str, float]:
    seconds = sorted(made.seconds)
    return {
        "writes": len(seconds),
        "per_second": len(seconds) / sum(made.elapsed),
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000,
        "server_errors": len(made.server_errors()),
        "not_2xx": len(made.unexpected()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=120, help="writes per round (default 120)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each (default 6)")
    parser.add_argument("--postgres", default=os.environ.get("SYNDICATOR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print("| database | writers | writes | writes/s | p50 ms | p99 ms | 5xx | not 2xx |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for name in ("sqlite", "postgresql"):
        if name == "postgresql" and not args.postgres:
            print(f"| {name} | skipped: no --postgres URL or $SYNDICATOR_TEST_DATABASE_URL |")
            continue
        with (
            tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp,
            database(name, args.postgres, Path(tmp)) as url,
        ):
            made = rounds(url, Path(tmp), args)
        results = {writers: summary(made[writers]) for writers in WRITER_COUNTS}
        for writers, result in results.items():
            ok &= result["server_errors"] == 0
            cells = [name, writers, *(f"{result[key]:.0f}" for key in COLUMNS)]
            print("| " + " | ".join(str(cell) for cell in cells) + " |")
        # Same number of writes in each: the ratio of writes/s is the inverse ratio of times.
        per_round = [one / six for one, six in zip(made[1].elapsed, made[6].elapsed, strict=True)]
        ratio = statistics.median(per_round)
        ok &= ratio >= 1.0
        verdict = "PASS" if ratio >= 1.0 else "FAIL"
        spread = f"{min(per_round):.2f}-{max(per_round):.2f}"
        print(f"| {name} | ratio 6/1 | | **{ratio:.2f}** ({spread}) | | | | >= 1.0: {verdict} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
