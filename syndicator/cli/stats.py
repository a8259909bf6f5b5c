"""`syndicator stats`: the audience of one feed per day, or of every feed today."""

from __future__ import annotations

import click

from syndicator import core as core_module
from syndicator.cli import cli, with_core
from syndicator.feeds import catalog
from syndicator.stats import audience
from syndicator.stats.tally import day_of

BARS = "▁▂▃▄▅▆▇█"
_HEADINGS = ("audience", "aggregators", "pollers", "email", "webhooks", "websub")
_TRAFFIC = ("requests", "200", "304", "429")


def sparkline(values: list[int]) -> str:
    """One block character per value, scaled from zero to the largest."""
    top = max(values, default=0)
    if top == 0:
        return BARS[0] * len(values)
    return "".join(BARS[round(value * (len(BARS) - 1) / top)] for value in values)


@cli.command("stats")
@click.argument("feed", required=False)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, audience.MAX_DAYS))
@with_core(migrate=True)
def stats_command(core: core_module.Core, feed: str | None, days: int) -> None:
    """Audience per day of FEED (each source apart), or of every feed today."""
    today = day_of(core.now(), core.timezone)
    with core.reading() as session:
        feeds = [feed] if feed else [found.slug for found in catalog.all_feeds(session)]
        series = {slug: audience.series(session, slug, today=today, days=days) for slug in feeds}
    if feed:
        _one_feed(feed, series[feed], core.config.site.timezone)
    else:
        _every_feed(series)


def _row(cells: tuple[object, ...], first_width: int) -> str:
    first, *rest = cells
    return f"{first!s:<{first_width}}" + "".join(f"{cell!s:>12}" for cell in rest)


def _figures(day: audience.Day) -> tuple[int, ...]:
    return (day.audience, *(day.source(name) for name in audience.SOURCES))


def _one_feed(feed: str, days: list[audience.Day], zone: str) -> None:
    values = [day.audience for day in days]
    click.echo(f"{feed}: audience per day, {days[0].day} to {days[-1].day} ({zone})")
    click.echo(
        f"{sparkline(values)}  now {values[-1]}, lowest {min(values)}, highest {max(values)}"
    )
    click.echo()
    click.echo(_row(("day", *_HEADINGS, *_TRAFFIC), 12))
    for day in reversed(days):
        traffic = (day.requests, day.full, day.not_modified, day.throttled)
        click.echo(_row((day.day, *_figures(day), *traffic), 12))


def _every_feed(series: dict[str, list[audience.Day]]) -> None:
    width = max((len(slug) for slug in series), default=4) + 2
    click.echo(_row(("feed", *_HEADINGS), width) + "  trend")
    for slug, days in series.items():
        trend = sparkline([day.audience for day in days])
        click.echo(_row((slug, *_figures(days[-1])), width) + f"  {trend}")
