"""A real `syndicator serve` process on a free port of 127.0.0.1, stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent  # the tree under test, whatever is installed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(
    folder: Path, config: str | Callable[[str], str], *, start_seconds: float = 30
) -> Iterator[str]:
    """Write `config` to folder/config.toml, migrate (PostgreSQL needs it), start `serve`,
    and yield its base URL once it answers.

    `config` may be a function of the base URL, for a config whose `[site] base_url`
    is the server's own. The server's output goes to folder/serve.log, for the test to read.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    text = config(base) if callable(config) else config
    (folder / "config.toml").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    upgrade = [sys.executable, "-m", "syndicator", "db", "upgrade"]
    migrated = subprocess.run(upgrade, cwd=folder, env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            assert process.poll() is None, (folder / "serve.log").read_text()
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
