"""Publisher benchmark (issue 2): serving a feed, and rendering one cold.

    python bench/feeds.py            # about 2.5 minutes
    python bench/feeds.py --quick    # about a minute, noisier

(a) GET /<feed>/atom.xml (20 posts, render cache warm) and (b) the same URL
answered 304 for its ETag, each in requests/s against a trivial route added to
the same app that returns the same bytes. Two waitress servers (as `syndicator
serve` runs it: threads=8), one counting the audience (the default) and one
with `[stats] enabled = false`, each in a child process, one load tool (wrk, or
a Python keep-alive client when wrk is missing), the six URLs measured in
interleaved rounds with the same connections and duration; the median of the
per-round ratios is compared with the target, and the ratio with counting
with the ratio without (issue 13: at least 95% of it).
(c) cold renders of 1,000 and 10,000 entries in each format, against writing
the same Atom document directly with lxml.etree (see bench/feeds_render.py).

Everything runs on a temporary SQLite file; instance/ is never touched. Exits
1 when a target is missed, but it is a benchmark, not a test: run it on a
quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The checkout this file is in, not whatever copy of syndicator the venv has installed:
# `python bench/feeds.py` puts bench/ first on the path, not the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feeds_load  # beside this script
import feeds_render

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.feeds import catalog, formats, serving
from syndicator.posts import store

FEED = "bench"
POSTS = 20
TARGET_RATIO = 0.8
COUNTING_TARGET = 0.95  # audience counting keeps 95% of the ratio without it
SERVER_CPU, CLIENT_CPU = 0, 1
TRIVIAL_PATH = "/_bench/trivial"
# About the size of the sample post in feeds/ (2 kB of Markdown), with links to absolutize.
PARAGRAPH = (
    "Paragraph {n} of the post, *with emphasis* and `code`, a [relative link](../other-post/) "
    "and a sentence or two of plain text to make it the length of a real paragraph, saying "
    "what happened that day on the river, who came along and what the weather did. "
)


@dataclass(frozen=True)
class Sample:
    """One load run against one URL."""

    requests: int
    seconds: float
    server_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Requests per second of server CPU: hardly moved by other work on the machine."""
        return self.requests / self.server_cpu_seconds


@dataclass(frozen=True)
class Settings:
    rounds: int
    seconds: int  # wrk takes whole seconds
    render_repeats: int


FULL = Settings(rounds=8, seconds=2, render_repeats=3)
QUICK = Settings(rounds=3, seconds=1, render_repeats=1)


def bench_config(workdir: Path, *, counting: bool = True) -> config_module.Config:
    data = {
        "stats": {"enabled": counting},
        "storage": {
            "database_url": f"sqlite:///{workdir / 'bench.db'}",
            "content_dir": str(workdir / "feeds"),
        },
        "email": {"maildir": str(workdir / "mail")},
    }
    return config_module.from_mapping(data, source="bench", base_dir=workdir, env={})


def seed(workdir: Path) -> None:
    """A feed of 20 posts of realistic size, created the way the admin API does."""
    core = core_module.build(bench_config(workdir))
    core_module.prepare(core, migrate=True)
    now = core.now()
    with core.transaction() as session:
        settings = catalog.FeedSettings(title="Bench", subtitle="Benchmark feed", language="en")
        catalog.upsert(session, FEED, settings, now)
        for n in range(POSTS):
            data = store.PostData(
                title=f"Post number {n}: on rivers & lakes",
                published_at=now - timedelta(hours=n + 1),
                content_source="\n\n".join(PARAGRAPH.format(n=p) for p in range(6)),
                author="A. Writer",
                tags=("rivers", "lakes", f"issue {n % 4}"),
            )
            store.create(session, FEED, data, store.Origin(), now)
    core.close()


# --- the server (child process) -------------------------------------------


def serve(workdir: Path, counting: bool) -> None:
    """The app as `syndicator serve` builds it (audience counting on or off, its flush
    thread running), plus one trivial route for the baseline."""
    import waitress
    from flask import Response

    from syndicator.cli import cli
    from syndicator.stats import flusher
    from syndicator.web import create_app

    cli.callback(config_path=None)  # logging exactly as `syndicator serve` sets it up
    core = core_module.build(bench_config(workdir, counting=counting))
    app = create_app(core=core)
    flusher.start(core)
    rendered = serving.feed_bytes(core, FEED, "atom")  # warms the render cache

    @app.get(TRIVIAL_PATH)
    def trivial() -> Response:
        return Response(rendered.body, content_type=formats.MEDIA_TYPES["atom"])

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8, ident="bench")
    started = {"port": server.effective_port, "etag": rendered.etag, "size": len(rendered.body)}
    print(json.dumps(started), flush=True)
    server.run()


class Server:
    """The child process serving the app, pinned to its own CPU."""

    def __init__(self, workdir: Path, pinned: bool, counting: bool) -> None:
        args = [sys.executable, __file__, "--serve", str(workdir)]
        args += ["--cpu", str(SERVER_CPU)] if pinned else []
        args += [] if counting else ["--no-counting"]
        log = workdir / f"server-{'counting' if counting else 'plain'}.log"
        self.log = log.open("w")  # the access log, as in production
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        started = json.loads(line)
        self.base = f"http://127.0.0.1:{started['port']}"
        self.etag, self.size = started["etag"], started["size"]

    def cpu_seconds(self) -> float:
        """User + system time of the server so far: what it spent, whatever else ran."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


# --- (a) and (b) --------------------------------------------------------------


def check_responses(server: Server) -> None:
    """The bench only means something if the feed URL behaves as the contract says."""
    feed = urllib.request.urlopen(f"{server.base}/{FEED}/atom.xml")
    trivial = urllib.request.urlopen(server.base + TRIVIAL_PATH)
    _require(feed.read() == trivial.read(), "the trivial route must return the same bytes")
    for header in ("ETag", "Last-Modified", "Cache-Control", "Vary", "Date"):
        _require(feed.headers[header] is not None, f"the feed response lacks {header}")
    request = urllib.request.Request(
        f"{server.base}/{FEED}/atom.xml", headers={"If-None-Match": f'"{server.etag}"'}
    )
    try:
        status = urllib.request.urlopen(request).status
    except urllib.error.HTTPError as answer:
        status = answer.code
    _require(status == 304, f"If-None-Match with the ETag answered {status}, not 304")


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise RuntimeError(problem)


def feed_renders(server: Server) -> float:
    """How many times the server rendered a feed (the cache must stay warm)."""
    text = urllib.request.urlopen(f"{server.base}/metrics").read().decode()
    counts = re.findall(r"^syndicator_feed_renders_total\S* (\S+)$", text, re.M)
    return sum(float(count) for count in counts)


MODES = {"with": True, "without": False}  # audience counting on, off


def http_rates(
    workdir: Path, settings: Settings, load: feeds_load.Load, pinned: bool
) -> dict[str, list[Sample]]:
    """Requests/s per target and round, the targets taking turns within each round: the
    feed, its 304 and the trivial route of a server counting the audience and of one not."""
    servers = {mode: Server(workdir, pinned, counting) for mode, counting in MODES.items()}
    try:
        targets: dict[str, tuple[Server, str, dict[str, str]]] = {}
        for mode, server in servers.items():
            check_responses(server)
            page = f"{server.base}/{FEED}/atom.xml"
            targets[f"{mode}:feed"] = (server, page, {})
            targets[f"{mode}:feed_304"] = (server, page, {"If-None-Match": f'"{server.etag}"'})
            targets[f"{mode}:trivial"] = (server, server.base + TRIVIAL_PATH, {})
        size = servers["with"].size
        print(f"feed of {POSTS} posts: {size:,} bytes, as 200 and from the trivial route")
        for _server, url, headers in targets.values():  # warm-up: connections, code paths
            load(url, 1, headers)
        renders_before = [feed_renders(server) for server in servers.values()]
        samples: dict[str, list[Sample]] = {name: [] for name in targets}
        for round_number in range(settings.rounds):
            turn = round_number % len(targets)
            for name in list(targets)[turn:] + list(targets)[:turn]:
                server, url, headers = targets[name]
                cpu_before = server.cpu_seconds()
                requests, seconds = load(url, settings.seconds, headers)
                cpu = server.cpu_seconds() - cpu_before
                samples[name].append(Sample(requests, seconds, cpu))
        renders_after = [feed_renders(server) for server in servers.values()]
        _require(renders_after == renders_before, "the feed was re-rendered mid-run")
    finally:
        for server in servers.values():
            server.stop()
    return samples


def print_http(samples: dict[str, list[Sample]], tool: str, settings: Settings) -> bool:
    """Ratios are medians of per-round ratios: runs next to each other in time share
    whatever else the machine was doing. The verdict is on requests/s (wall clock)."""
    connections = feeds_load.CONNECTIONS
    print(f"\nHTTP: waitress threads=8, load tool {tool}, {connections} keep-alive connections,")
    print(f"      {settings.rounds} interleaved rounds of {settings.seconds}s; medians")
    print("      req/s: wall clock; per CPU-s: requests per second of server CPU time\n")
    print(f"{'':<36}{'req/s':>7}{'trivial':>8}{'ratio':>6}{'rounds':>11}", end="")
    print(f"{'per CPU-s':>10}{'trivial':>8}{'ratio':>6}  target")
    passed = True
    rows = (("(a) atom.xml 200, warm", "feed"), ("(b) atom.xml 304", "feed_304"))
    for mode in MODES:
        trivial = samples[f"{mode}:trivial"]
        for label, name in rows:
            mine = samples[f"{mode}:{name}"]
            ratios = _ratios(mine, trivial)
            ratio = statistics.median(ratios)
            verdict = _verdict(ratio, TARGET_RATIO)
            passed &= verdict == "PASS"
            print(
                f"{label + ', ' + mode + ' counting':<36}"
                f"{_median(mine, 'rate'):>7.0f}{_median(trivial, 'rate'):>8.0f}"
                f"{ratio:>6.2f}{min(ratios):>6.2f}-{max(ratios):.2f}"
                f"{_median(mine, 'cpu_rate'):>10.0f}{_median(trivial, 'cpu_rate'):>8.0f}"
                f"{_cpu_ratio(mine, trivial):>6.2f}  >= {TARGET_RATIO} {verdict}"
            )
    print("\naudience counting: ratio with counting / ratio without, per round; medians")
    print(f"{'':<36}{'req/s':>7}{'rounds':>11}{'per CPU-s':>10}  target")
    for label, name in rows:
        with_, without = f"with:{name}", f"without:{name}"
        kept = [
            a / b
            for a, b in zip(
                _ratios(samples[with_], samples["with:trivial"]),
                _ratios(samples[without], samples["without:trivial"]),
                strict=True,
            )
        ]
        share = statistics.median(kept)
        cpu_share = _cpu_ratio(samples[with_], samples["with:trivial"]) / _cpu_ratio(
            samples[without], samples["without:trivial"]
        )
        verdict = _verdict(share, COUNTING_TARGET)
        passed &= verdict == "PASS"
        print(
            f"{label:<36}{share:>7.3f}{min(kept):>6.2f}-{max(kept):.2f}{cpu_share:>10.3f}"
            f"  >= {COUNTING_TARGET} {verdict}"
        )
    return passed


def _verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "FAIL"


def _ratios(mine: list[Sample], base: list[Sample]) -> list[float]:
    return [a.rate / b.rate for a, b in zip(mine, base, strict=True)]


def _median(samples: list[Sample], measure: str) -> float:
    return statistics.median(getattr(sample, measure) for sample in samples)


def _cpu_ratio(mine: list[Sample], base: list[Sample]) -> float:
    return statistics.median(a.cpu_rate / b.cpu_rate for a, b in zip(mine, base, strict=True))


# --- entry point ----------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="three short rounds, one render each")
    parser.add_argument("--python-load", action="store_true", help="ignore wrk even if present")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-counting", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.serve:
        serve(args.serve, counting=not args.no_counting)
        return 0
    settings = QUICK if args.quick else FULL
    pinned = {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    if pinned:
        os.sched_setaffinity(0, {CLIENT_CPU})
    use_wrk = shutil.which("wrk") is not None and not args.python_load
    load: feeds_load.Load = feeds_load.wrk if use_wrk else feeds_load.python_load
    tool = "wrk" if use_wrk else "python http.client threads"
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}")
    load_average = os.getloadavg()[0]
    print(f"load average before the run: {load_average:.2f}", end="")
    print("  (busy machine: expect noisy figures)" if load_average > 1 else "")
    print(
        f"CPUs: server on {SERVER_CPU}, load tool and renders on {CLIENT_CPU}"
        if pinned
        else "CPUs: fewer than 2 available, nothing pinned (expect noisier ratios)"
    )
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-") as tmp:
        workdir = Path(tmp)
        seed(workdir)
        samples = http_rates(workdir, settings, load, pinned)
    passed = print_http(samples, tool, settings)
    feeds_render.report(settings.render_repeats)
    print("\nall targets met" if passed else "\nTARGET MISSED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
