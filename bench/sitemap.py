"""Site files at scale (issue 11): what /sitemap.xml and /feeds.opml cost at 10k-100k posts.

    python bench/sitemap.py                        # 10,000 posts, SQLite
    python bench/sitemap.py --sizes 10000 100000   # and 100,000 (an import of minutes)
    python bench/sitemap.py --database-url postgresql+psycopg://... --sizes 10000

The blog is `bench/scale.py`'s (2-5 KB of Markdown a post, 1-3 of 50 tags,
15 years of dates), imported with `syndicator import` in a child process.
Then, in this process, the app as `serve` builds it answers through its test
client (no HTTP): per size, the median over 3 fresh cores (empty caches) of
the first request to each file (cold: the walk over every post and the render)
and of the walk alone; then 300 requests to each file (warm; `--warm`) and 300
with the ETag (304), the sizes taking turns in rounds of 10. Times are wall
clock and this process's CPU (on a shared machine the CPU figures are the ones
to compare). Target: a warm request costs the same at every size (growth
<= 1.2x); a cold one is one walk, O(posts), once per change.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scale  # noqa: E402  (the blog generator and the child-process runner)
from writes import database  # noqa: E402

from syndicator import config as config_module  # noqa: E402
from syndicator import core as core_module  # noqa: E402
from syndicator.feeds import sitemap  # noqa: E402
from syndicator.web import create_app  # noqa: E402

FILES = ("/sitemap.xml", "/feeds.opml")
COLD = 3


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU milliseconds of one call, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


Figures = dict[str, list[float]]


def cold(config_file: Path, figures: Figures) -> Any:
    """Cold figures over `COLD` fresh cores; a client of the last, warm, for `warm`."""
    config = config_module.load(str(config_file), env={})

    def put(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    for _ in range(COLD):
        core = core_module.build(config)
        client = create_app(core=core).test_client()
        for path in FILES:
            wall, cpu, answer = timed(lambda: client.get(path))  # noqa: B023
            assert answer.status_code == 200, path
            put(f"{path} cold ms", wall)
            put(f"{path} cold CPU ms", cpu)
            put(f"{path} bytes", len(answer.data))
        index = client.get("/sitemap.xml").get_data(as_text=True)
        parts = [urlsplit(loc).path for loc in re.findall(r"<loc>([^<]*)</loc>", index)]
        parts = [path for path in parts if path.startswith("/sitemap-")]  # an index's
        put("sitemap parts", len(parts))
        put("largest part bytes", max((len(client.get(path).data) for path in parts), default=0))
        with core.reading() as session:
            wall, cpu, maps = timed(
                lambda: sitemap.walk(session, per_page=scale.PER_PAGE, now=core.now())  # noqa: B023
            )
        put("walk ms", wall)
        put("walk CPU ms", cpu)
        put("URLs", sum(len(site.listings) + len(site.posts) for site in maps))
    return client


def warm(clients: dict[int, Any], figures: dict[int, Figures], requests: int) -> None:
    """Warm and 304 requests, the sizes taking turns in rounds of 10, so that a busy
    moment of the machine falls on all of them."""
    for _ in range(max(1, requests // 10)):
        for count, client in clients.items():
            for path in FILES:
                etag = client.get(path).headers["ETag"]
                for _ in range(10):
                    wall, cpu, answer = timed(lambda: client.get(path))  # noqa: B023
                    figures[count].setdefault(f"{path} warm ms", []).append(wall)
                    figures[count].setdefault(f"{path} warm CPU ms", []).append(cpu)
                    wall, cpu, answer = timed(
                        lambda: client.get(path, headers={"If-None-Match": etag})  # noqa: B023
                    )
                    assert answer.status_code == 304, path
                    figures[count].setdefault(f"{path} 304 ms", []).append(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--database-url", help="PostgreSQL (a schema of its own); else SQLite")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) blogs and databases here")
    parser.add_argument("--warm", type=int, default=300, help="warm requests per file and size")
    args = parser.parse_args()
    kind = "postgresql" if args.database_url else "sqlite"
    figures: dict[int, Figures] = {count: {} for count in args.sizes}
    clients: dict[int, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sitemap-bench-") as scratch, ExitStack() as stack:
        for count in args.sizes:
            folder = (args.keep or Path(scratch)) / f"{kind}-{count}"
            # An SQLite database is kept with its blog; a PostgreSQL schema is new every run.
            reused = kind == "sqlite" and (folder / "config.toml").exists()
            folder.mkdir(parents=True, exist_ok=True)
            url = stack.enter_context(database(kind, args.database_url, folder))
            if not reused:
                if not (folder / "blog").exists():
                    scale.generate(folder / "blog", count)
                (folder / "config.toml").write_text(
                    f'[site]\nbase_url = "http://127.0.0.1:8000"\n'
                    f'default_feed = "{scale.FEED}"\n'
                    f'[storage]\ndatabase_url = "{url}"\ncontent_dir = "{folder / "blog"}"\n'
                    f"[feeds]\nitems = {scale.PER_PAGE}\n",
                    encoding="utf-8",
                )
                scale.syndicator(folder, "db", "upgrade")
                imported = scale.syndicator(folder, "import")
                print(f"{count:,} posts imported in {imported.seconds:.0f} s", file=sys.stderr)
            clients[count] = cold(folder / "config.toml", figures[count])
        warm(clients, figures, args.warm)
    results = {
        count: {name: statistics.median(values) for name, values in named.items()}
        for count, named in figures.items()
    }
    base = min(results)
    print(f"\nSite files, {kind} ({', '.join(f'{count:,}' for count in results)} posts)")
    for name in results[base]:
        row = "  ".join(f"{results[count][name]:>12,.2f}" for count in results)
        growth = results[max(results)][name] / results[base][name] if results[base][name] else 0
        print(f"{name:<28}{row}  x{growth:.2f}")
    names = [f"{path} warm CPU ms" for path in FILES]
    flat = all(results[max(results)][name] <= 1.2 * results[base][name] for name in names)
    print("warm growth <= 1.2x:", "PASS" if flat else "FAIL")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
