"""`syndicator stats`: the audience of one feed per day, or of every feed today."""

from __future__ import annotations

from datetime import datetime

import click

from syndicator import core as core_module
from syndicator.cli import cli, with_core
from syndicator.stats import audience
from syndicator.stats.tally import day_of

BARS = "▁▂▃▄▅▆▇█"
_HEADINGS = ("audience", "aggregators", "pollers", "email", "webhooks", "websub")
_TRAFFIC = ("requests", "200", "304", "429")


def sparkline(values: list[int]) -> str:
    """One block character per value, from the lowest value (▁) to the highest (█)."""
    low, high = min(values, default=0), max(values, default=0)
    if high == low:
        return BARS[0 if high == 0 else -1] * len(values)
    return "".join(BARS[round((value - low) * (len(BARS) - 1) / (high - low))] for value in values)


@cli.command("stats")
@click.argument("feed", required=False)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, audience.MAX_DAYS))
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The last day shown (default: today, in [site] timezone).",
)
@with_core(migrate=True)
def stats_command(
    core: core_module.Core, feed: str | None, days: int, until: datetime | None
) -> None:
    """Audience per day of FEED (each source apart), or of every feed on its last day."""
    today = day_of(core.now(), core.timezone)
    last = until.date() if until else today
    with core.reading() as session:
        live = audience.channels_now(session, core.urls, core.now())
        feeds = [feed] if feed else list(live)
        series = {
            slug: audience.series(
                session, slug, last=last, days=days, live=live if last == today else None
            )
            for slug in feeds
        }
    if feed:
        _one_feed(feed, series[feed], core.config.site.timezone)
    else:
        _every_feed(series)


def _row(cells: tuple[object, ...], first_width: int, headings: tuple[str, ...]) -> str:
    """The first cell left-aligned, each other one right-aligned under its heading."""
    first, *rest = cells
    widths = [max(len(heading), 5) + 2 for heading in headings]
    return f"{first!s:<{first_width}}" + "".join(
        f"{cell!s:>{width}}" for cell, width in zip(rest, widths, strict=True)
    )


def _figures(day: audience.Day) -> tuple[int, ...]:
    return (day.audience, *(day.source(name) for name in audience.SOURCES))


def _one_feed(feed: str, days: list[audience.Day], zone: str) -> None:
    values = [day.audience for day in days]
    click.echo(f"{feed}: audience per day, {days[0].day} to {days[-1].day} ({zone})")
    click.echo(
        f"{sparkline(values)}  now {values[-1]}, lowest {min(values)}, highest {max(values)}"
    )
    click.echo()
    headings = (*_HEADINGS, *_TRAFFIC)
    click.echo(_row(("day", *headings), 10, headings))
    for day in reversed(days):
        traffic = (day.requests, day.full, day.not_modified, day.throttled)
        click.echo(_row((day.day, *_figures(day), *traffic), 10, headings))


def _every_feed(series: dict[str, list[audience.Day]]) -> None:
    width = max((len(slug) for slug in series), default=4) + 2
    click.echo(_row(("feed", *_HEADINGS), width, _HEADINGS) + "  trend")
    for slug, days in series.items():
        trend = sparkline([day.audience for day in days])
        click.echo(_row((slug, *_figures(days[-1])), width, _HEADINGS) + f"  {trend}")
