"""Webhook delivery benchmark (issue 4): fan-out throughput and publish-to-delivery latency.

    python bench/webhooks.py             # about 30 seconds
    python bench/webhooks.py --rounds 5  # steadier medians

(a) One event fanned out to 1,000 endpoints on a local receiver (a
ThreadingHTTPServer in a child process, Nagle off, answering 204): the
worker's deliveries/s (fan-out, claim with lease, signed POST, attempt
recorded in the database) against a bare loop of pooled `requests` sessions
POSTing the same body to the same 1,000 URLs with the same concurrency. The
two run in interleaved rounds in the same process; medians are compared.
Target: ratio >= 0.7.
(b) The time from committing a published post to its first delivery, with
the real scheduler polling every second. Target: <= poll interval + 1 s.

Everything runs on a temporary SQLite file. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from sqlalchemy import update

# The checkout this file is in, not whatever copy of syndicator the venv has installed:
# `python bench/webhooks.py` puts bench/ first on the path, not the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import worker
from syndicator.feeds import catalog
from syndicator.models import WebhookEndpoint
from syndicator.posts import store
from syndicator.webhooks import endpoints

ENDPOINTS = 1000
CONCURRENCY = 16
POLL_SECONDS = 1.0
TARGET_RATIO = 0.7


class _Quiet(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def _serve(port_out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
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
    return core


def publish(core: core_module.Core, title: str) -> None:
    data = store.PostData(title=title, published_at=core.now(), content_source="Some *text*.")
    with core.transaction() as session:
        store.create(session, "bench", data, store.Origin(), core.now())


def worker_rate(core: core_module.Core, round_number: int) -> float:
    publish(core, f"Fan-out {round_number}")
    started = time.perf_counter()
    sent = worker.deliver_webhooks(core)
    elapsed = time.perf_counter() - started
    assert sent >= ENDPOINTS, f"the worker sent {sent}"
    return ENDPOINTS / elapsed


def baseline_rate(urls: list[str], body: bytes) -> float:
    local = threading.local()
    headers = {"Content-Type": "application/json", "webhook-id": "msg_x"}

    def send(url: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session.post(url, data=body, headers=headers, timeout=10).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        codes = list(pool.map(send, urls))
    elapsed = time.perf_counter() - started
    assert codes.count(204) == ENDPOINTS
    return ENDPOINTS / elapsed


def latency(core: core_module.Core) -> float:
    """Seconds from commit to the first delivery, with the scheduler as `serve` runs it."""
    arrived = threading.Event()

    class Once(_Quiet):
        def do_POST(self) -> None:
            super().do_POST()
            arrived.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Once)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with core.transaction() as session:
        session.execute(update(WebhookEndpoint).values(status="disabled"))
        url = f"http://127.0.0.1:{server.server_address[1]}/first"
        endpoints.create(session, {"url": url}, now=core.now(), allow_private=True)
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
    urls = [f"http://127.0.0.1:{port}/hook/{number}" for number in range(ENDPOINTS)]
    with tempfile.TemporaryDirectory() as folder:
        core = build(Path(folder))
        try:
            with core.transaction() as session:
                for url in urls:
                    endpoints.create(session, {"url": url}, now=core.now(), allow_private=True)
            body = b'{"type":"post.published","data":{"title":"x"}}' * 8
            baseline_rate(urls, body)  # warm up both sides once
            worker_rate(core, 0)
            ours, bare = [], []
            for number in range(1, rounds + 1):
                ours.append(worker_rate(core, number))
                bare.append(baseline_rate(urls, body))
            seconds = latency(core)
        finally:
            core.close()
            receiver.terminate()
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"fan-out to {ENDPOINTS} endpoints, concurrency {CONCURRENCY}, {rounds} rounds")
    print(f"  worker (fan-out + signed POST + attempt recorded): {statistics.median(ours):8.0f}/s")
    print(f"  bare pooled requests.Session loop:                 {statistics.median(bare):8.0f}/s")
    print(f"  ratio: {ratio:.2f} (target >= {TARGET_RATIO})")
    print(f"publish -> first delivery: {seconds:.2f} s (target <= {POLL_SECONDS + 1:.1f} s)")
    return 0 if ratio >= TARGET_RATIO and seconds <= POLL_SECONDS + 1 else 1


if __name__ == "__main__":
    sys.exit(main())
