"""Load generators for bench/feeds.py: wrk, or a Python stand-in when wrk is missing.

Each takes (url, seconds, headers), keeps CONNECTIONS keep-alive connections
busy for that long and returns (requests answered, seconds taken); any
answer other than 200 or 304 stops the run with an error.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from http.client import HTTPConnection

CONNECTIONS = 8
Load = Callable[[str, int, dict[str, str]], tuple[int, float]]


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[int, float]:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run(args, capture_output=True, text=True)
    out = done.stdout
    if done.returncode or "Non-2xx or 3xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk failed or saw failed requests:\n{out}{done.stderr}")
    done_in = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if done_in is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    requests, took, unit = done_in.groups()
    return int(requests), float(took) / (1000 if unit == "ms" else 1)


def python_load(url: str, seconds: int, headers: dict[str, str]) -> tuple[int, float]:
    """Keep-alive connections on threads: a stand-in for wrk, itself GIL-bound."""
    host, _, rest = url.removeprefix("http://").partition("/")
    path, counts, failures = "/" + rest, [0] * CONNECTIONS, []
    deadline = time.perf_counter() + seconds

    def client(slot: int) -> None:
        connection = HTTPConnection(host, timeout=10)
        while time.perf_counter() < deadline and not failures:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status not in (200, 304):
                failures.append(f"{url} answered {response.status}")
            counts[slot] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])
    return sum(counts), time.perf_counter() - started
