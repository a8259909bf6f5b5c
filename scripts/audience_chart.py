"""Regenerate docs/audience.svg and the CLI sample in the README from the test data.

    python scripts/audience_chart.py

Imports the shipped blog (feeds/) into a temporary SQLite file, plays the
30 days of traffic the tests use (tests/stats_support.py::audience_days),
writes the chart the API serves at /api/feeds/from-the-waters/stats.svg to
docs/audience.svg and prints what `syndicator stats from-the-waters --days 7`
prints for the same data.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from factories import FakeClock, build_core, import_folder  # noqa: E402
from stats_support import SHIPPED_BLOG, SHIPPED_FEED, audience_days  # noqa: E402

from syndicator import config as config_module  # noqa: E402
from syndicator.cli import cli  # noqa: E402
from syndicator.stats import audience, chart  # noqa: E402
from syndicator.web import create_app  # noqa: E402

# The last day shown; a fixed date so the picture changes only when the code does.
LAST_DAY = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="syndicator-audience-") as folder:
        url = f"sqlite:///{Path(folder) / 'audience.db'}"
        data = {"storage": {"database_url": url, "content_dir": str(SHIPPED_BLOG)}}
        config = config_module.from_mapping(data, source="chart", base_dir=Path(folder), env={})
        clock = FakeClock(LAST_DAY)
        core = build_core(config, clock)
        import_folder(core, SHIPPED_BLOG)
        audience_days(create_app(core=core), clock, SHIPPED_FEED, days=30)
        with core.reading() as session:
            live = audience.channels_now(session, core.urls, core.now())
            days = audience.series(session, SHIPPED_FEED, last=LAST_DAY.date(), days=30, live=live)
        (ROOT / "docs" / "audience.svg").write_bytes(chart.svg(SHIPPED_FEED, days))
        config_file = Path(folder) / "config.toml"
        config_file.write_text(f'[storage]\ndatabase_url = "{url}"\n', encoding="utf-8")
        core.close()
        until = LAST_DAY.date().isoformat()
        arguments = ["--config", str(config_file), "stats", SHIPPED_FEED, "--days", "7"]
        result = CliRunner().invoke(cli, [*arguments, "--until", until])
        print(result.output, end="")


if __name__ == "__main__":
    main()
