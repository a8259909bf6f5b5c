"""Does the subscribe answer's timing tell whether an address is already confirmed?

Subscribes a new address, one waiting for confirmation and one confirmed, in
turn, N times each, through the Flask app on an SQLite file in a temporary
directory, and prints each case's median and 10th percentile (the fastest
answers, least disturbed by other work on the machine) with their ratio to the
new address. An attacker who sees one case answer faster can tell who reads
the blog; the target is every ratio within 0.9-1.1.

    python bench/subscribe_timing.py [--requests N]
"""

from __future__ import annotations

import argparse
import mailbox
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.feeds import catalog
from syndicator.mail import sender
from syndicator.web import create_app

CASES = ("new", "waiting", "confirmed")


def site(folder: Path) -> tuple[Any, Any]:
    """An app with one feed, one waiting and one confirmed subscriber."""
    config = config_module.from_mapping(
        {
            "storage": {"database_url": f"sqlite:///{folder / 'bench.db'}"},
            "email": {"maildir": str(folder / "mail")},
            "digest": {"subscribe_limit_per_ip": 10**9, "subscribe_limit_per_email": 10**9},
        },
        source="bench",
        base_dir=folder,
        env={},
    )
    core = core_module.build(config)
    db.upgrade(core.engine)
    with core.transaction() as session:
        catalog.upsert(session, "news", catalog.FeedSettings(title="News"), core.now())
    client = create_app(core=core).test_client()
    for email in ("waiting@example.org", "confirmed@example.org"):
        client.post("/news/subscribe", json={"email": email})
    sender.send_pending(core)
    mail = next(m for m in mailbox.Maildir(folder / "mail") if m["To"] == "confirmed@example.org")
    link = re.search(r"https?://[^/]+(/confirm/\S+)", mail.as_string())
    assert link and client.post(link.group(1)).status_code == 303
    return core, client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        core, client = site(Path(folder))
        times: dict[str, list[float]] = {case: [] for case in CASES}
        for number in range(args.requests):
            for case in CASES:
                email = f"new{number}@example.org" if case == "new" else f"{case}@example.org"
                started = time.perf_counter()
                client.post("/news/subscribe", json={"email": email})
                times[case].append(time.perf_counter() - started)
        core.close()
    base = {"median": statistics.median(times["new"]), "p10": _p10(times["new"])}
    worst = 1.0
    for case in CASES:
        median, p10 = statistics.median(times[case]), _p10(times[case])
        ratios = (median / base["median"], p10 / base["p10"])
        worst = max(worst, *(abs(1 - r) + 1 for r in ratios))
        print(
            f"{case:10s} median {median * 1000:6.2f} ms ({ratios[0]:.2f})  "
            f"p10 {p10 * 1000:6.2f} ms ({ratios[1]:.2f})"
        )
    verdict = worst <= 1.1
    print("PASS" if verdict else "FAIL", "(target: every ratio to the new address within 0.9-1.1)")
    return 0 if verdict else 1


def _p10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0]


if __name__ == "__main__":
    raise SystemExit(main())
