"""WebSub benchmark (issue 10): notifications/s, worker memory, publish-to-notification.

    PYTHONPATH=. python bench/websub.py             # about a minute
    PYTHONPATH=. python bench/websub.py --rounds 5  # steadier medians

(a) A post changes one topic with 1,000 subscribed callbacks on a local
receiver (a ThreadingHTTPServer in a child process, Nagle off, answering 204):
the worker's notifications/s (change noticed, topic rendered once, one
message per subscription, POST with the topic's bytes, attempt recorded)
against a bare loop of pooled `requests` sessions POSTing the same bytes to the
same 1,000 URLs with the same concurrency. Interleaved rounds in one process;
medians compared. Target: ratio >= 1.0.
(b) Worker memory for one change with 100, 1,000 and 10,000 subscriptions, each
size in a fresh process: the Python heap's peak (tracemalloc) and the growth
of peak RSS during the run. A run holds at most its claim window (8 x
concurrency = 128 messages), which 100 subscriptions do not fill; from there on
memory must not grow with the subscriptions. Target: the heap peak at 10,000
within 1.5x of the one at 1,000.
(c) The time from committing a published post to the first notification, with
the real scheduler polling every second. Target: <= poll interval + 1 s.

Everything runs on temporary SQLite files. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import paging, worker
from syndicator.feeds import catalog
from syndicator.posts import store
from syndicator.websub import channel, distribution, intake, subscriptions, topics

CALLBACKS = 1000
CONCURRENCY = 16
POLL_SECONDS = 1.0
TARGET_RATIO = 1.0
SIZES = (100, 1000, 10000)


class _Subscriber(BaseHTTPRequestHandler):
    """Echoes every challenge; 204 to every notification."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        challenge = parse_qs(urlsplit(self.path).query)["hub.challenge"][0].encode()
        self._answer(200, challenge)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(204, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _serve(port_out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Subscriber)
    server.daemon_threads = True
    server.request_queue_size = 128
    port_out.put(server.server_address[1])
    server.serve_forever()


def build(folder: Path) -> core_module.Core:
    data = {
        "storage": {"database_url": f"sqlite:///{folder / 'bench.db'}", "content_dir": str(folder)},
        "email": {"maildir": str(folder / "mail")},
        "webhooks": {"allow_private_targets": True, "concurrency": CONCURRENCY},
        "scheduler": {"poll_seconds": POLL_SECONDS},
    }
    core = core_module.build(config_module.from_mapping(data, env={}))
    core_module.prepare(core, migrate=True)
    with core.transaction() as session:
        catalog.upsert(session, "bench", catalog.FeedSettings(title="Bench"), core.now())
    publish(core, "First")
    return core


def publish(core: core_module.Core, title: str) -> None:
    data = store.PostData(title=title, published_at=core.now(), content_source="Some *text*.")
    with core.transaction() as session:
        store.create(session, "bench", data, store.Origin(), core.now())


def subscribe(core: core_module.Core, callbacks: list[str]) -> None:
    """Subscribe every callback as the hub's route does, then verify them all."""
    topic = topics.parse(core.urls, core.urls.feed("bench", "atom"))
    assert topic is not None
    rendered = topics.render(core, topic)
    with core.transaction() as session:
        distribution.baseline(session, topic, rendered, core.now())
        for callback in callbacks:
            asked = intake.Request(intake.Mode.SUBSCRIBE, topic, callback, None, 864000)
            subscriptions.request(session, asked, core.now())
    channel.run(core)
    with core.reading() as session:
        active = subscriptions.counts(session, core.now())["active"]
    assert active == len(callbacks), f"{active} of {len(callbacks)} verified"


def worker_rate(core: core_module.Core, round_number: int) -> float:
    publish(core, f"Change {round_number}")
    started = time.perf_counter()
    sent = worker.deliver_websub(core)
    elapsed = time.perf_counter() - started
    assert sent >= CALLBACKS, f"the worker sent {sent}"
    return CALLBACKS / elapsed


def baseline_rate(urls: list[str], body: bytes, headers: dict[str, str]) -> float:
    local = threading.local()

    def send(url: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session: requests.Session = local.session
        try:
            return session.post(url, data=body, headers=headers, timeout=10).status_code
        except requests.ConnectionError:  # a kept-alive connection the receiver dropped
            return session.post(url, data=body, headers=headers, timeout=10).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        codes = list(pool.map(send, urls))
    elapsed = time.perf_counter() - started
    assert codes.count(204) == len(urls)
    return len(urls) / elapsed


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _memory_of_one_change(size: int, port: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a fresh process: `size` verified subscriptions, then one change, measured."""
    with tempfile.TemporaryDirectory() as folder:
        core = build(Path(folder))
        subscribe(core, [f"http://127.0.0.1:{port}/cb/{n}" for n in range(size)])
        publish(core, "Measured")
        rss_before = _peak_rss_kib()
        tracemalloc.start()
        sent = worker.deliver_websub(core)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert sent == size, f"sent {sent} of {size}"
        out.put((peak // 1024, _peak_rss_kib() - rss_before))
        core.close()


def memory(port: int) -> dict[int, tuple[int, int]]:
    found = {}
    for size in SIZES:
        out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        child = multiprocessing.Process(target=_memory_of_one_change, args=(size, port, out))
        child.start()
        found[size] = out.get(timeout=600)
        child.join()
    return found


def latency(core: core_module.Core) -> float:
    """Seconds from commit to the first notification, with the scheduler as `serve` runs it."""
    arrived = threading.Event()

    class Once(_Subscriber):
        def do_POST(self) -> None:
            super().do_POST()
            arrived.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Once)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with core.transaction() as session:
        for row in subscriptions.page(session, paging.Window(100000, None))[0]:
            subscriptions.remove(session, row)
    subscribe(core, [f"http://127.0.0.1:{server.server_address[1]}/first"])
    scheduler = worker.start_in_background(core)
    try:
        time.sleep(POLL_SECONDS * 1.5)  # publish mid-way between two polls at worst
        started = time.perf_counter()
        publish(core, "Latency")
        arrived.wait(timeout=30)
        return time.perf_counter() - started
    finally:
        scheduler.shutdown(wait=True)
        server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    receiver = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    receiver.start()
    port = ports.get(timeout=10)
    urls = [f"http://127.0.0.1:{port}/cb/{number}" for number in range(CALLBACKS)]
    try:
        with tempfile.TemporaryDirectory() as folder:
            core = build(Path(folder))
            try:
                subscribe(core, urls)
                worker_rate(core, 0)  # warm up both sides once
                topic = core.urls.feed("bench", "atom")
                body = topics.render(core, topics.parse(core.urls, topic)).body  # type: ignore[arg-type]
                headers = {
                    "Content-Type": "application/atom+xml; charset=utf-8",
                    "Link": core.urls.hub_links(topic),
                }
                baseline_rate(urls, body, headers)
                ours, bare = [], []
                for number in range(1, rounds + 1):
                    ours.append(worker_rate(core, number))
                    body = topics.render(core, topics.parse(core.urls, topic)).body  # type: ignore[arg-type]
                    bare.append(baseline_rate(urls, body, headers))
                seconds = latency(core)
            finally:
                core.close()
        sizes = memory(port)
    finally:
        receiver.terminate()
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"one change to {CALLBACKS} subscriptions, concurrency {CONCURRENCY}, {rounds} rounds")
    print(f"  body: {len(body)} bytes (the topic's Atom feed)")
    worker_median, bare_median = statistics.median(ours), statistics.median(bare)
    print(f"  worker (change noticed, rendered once, POSTs, recorded): {worker_median:6.0f}/s")
    print(f"  bare pooled requests.Session loop, same bytes:           {bare_median:6.0f}/s")
    print(f"  ratio: {ratio:.2f} (target >= {TARGET_RATIO})")
    print("worker memory for one change (fresh process per size):")
    for size, (heap, rss) in sizes.items():
        print(f"  {size:6d} subscriptions: heap peak {heap:6d} KiB, peak RSS growth {rss:6d} KiB")
    growth = sizes[SIZES[-1]][0] / max(sizes[SIZES[1]][0], 1)
    flat = growth <= 1.5
    print(f"  heap peak 10,000 / 1,000: {growth:.2f} (target <= 1.5)")
    print(f"publish -> first notification: {seconds:.2f} s (target <= {POLL_SECONDS + 1:.1f} s)")
    return 0 if ratio >= TARGET_RATIO and seconds <= POLL_SECONDS + 1 and flat else 1


if __name__ == "__main__":
    sys.exit(main())
