"""Email subscribers and digests from the command line, on the same domain functions as the API."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from syndicator import core as core_module
from syndicator.cli import Failure, subgroup, warn_if_undeliverable, with_core
from syndicator.errors import Conflict, InvalidInput
from syndicator.feeds import catalog
from syndicator.mail import digests, sender, subscriptions
from syndicator.models import Frequency, SubscriberStatus

_COLUMNS = ("email", "feed", "frequency", "status", "created_at", "confirmed_at")
_FREQUENCIES = click.Choice([f.value for f in Frequency])


subscribers_group = subgroup("subscribers", "Email digest subscribers.")


@subscribers_group.command("list")
@click.option("--feed", default=None, help="Only this feed's subscribers.")
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]), default=None)
@with_core(migrate=True)
def list_command(core: core_module.Core, feed: str | None, status: str | None) -> None:
    """One line per subscriber: id, feed, email, frequency, status."""
    with core.reading() as session:
        if feed is not None:
            catalog.get(session, feed)
        for subscriber in subscriptions.listing(session, feed=feed, status=status):
            click.echo(
                f"{subscriber.id}\t{subscriber.feed_slug}\t{subscriber.email}\t"
                f"{subscriber.frequency}\t{subscriber.status}"
            )


@subscribers_group.command("add")
@click.argument("email")
@click.option("--feed", required=True)
@click.option("--frequency", type=_FREQUENCIES, default="daily", show_default=True)
@click.option("--confirmed", is_flag=True, help="Skip opt-in: the address already agreed.")
@with_core(migrate=True)
def add_command(
    core: core_module.Core, email: str, feed: str, frequency: str, confirmed: bool
) -> None:
    """Add an address; without --confirmed a confirmation mail is queued."""
    with core.transaction() as session:
        subscriber = subscriptions.add(
            session,
            subscriptions.Request(feed, email, frequency),
            core.config,
            core.timezone,
            core.now(),
            confirmed=confirmed,
        )
        click.echo(f"added {subscriber.email} to {feed} ({subscriber.status})")


@subscribers_group.command("remove")
@click.argument("email")
@click.option("--feed", required=True)
@with_core(migrate=True)
def remove_command(core: core_module.Core, email: str, feed: str) -> None:
    """Forget an address and its queued mail."""
    with core.transaction() as session:
        catalog.get(session, feed)
        subscriber = subscriptions.find(session, feed, subscriptions.normalize_email(email))
        if subscriber is None:
            raise Failure(f"{email} is not subscribed to {feed}")
        subscriptions.remove(session, subscriber)
    click.echo(f"removed {email} from {feed}")


@subscribers_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--feed", required=True)
@click.option("--frequency", type=_FREQUENCIES, default="daily", show_default=True)
@with_core(migrate=True)
def import_command(core: core_module.Core, path: Path, feed: str, frequency: str) -> None:
    """Import an existing, already opted-in list: a CSV with an `email` column
    (and optionally `frequency`). Known addresses are left as they are, so an
    unsubscribed reader is never signed up again. Bad rows are reported."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            added, kept, bad = _import_rows(core, csv.DictReader(handle), path, feed, frequency)
    except (UnicodeDecodeError, csv.Error) as error:
        raise Failure(f"{path}: cannot read it as CSV: {error}") from None
    click.echo(f"imported {added}, already known {kept}, bad rows {bad}")
    if bad:
        sys.exit(1)


def _import_rows(
    core: core_module.Core, rows: csv.DictReader[str], path: Path, feed: str, frequency: str
) -> tuple[int, int, int]:
    """Each row in its own transaction: one bad address loses nothing else."""
    if "email" not in (rows.fieldnames or ()):
        raise Failure(f"{path}: the first row must name an 'email' column")
    added = kept = bad = 0
    for line, row in enumerate(rows, start=2):
        request = subscriptions.Request(feed, row["email"] or "", row.get("frequency") or frequency)
        try:
            with core.transaction() as session:
                subscriptions.add(
                    session, request, core.config, core.timezone, core.now(), confirmed=True
                )
            added += 1
        except Conflict:
            kept += 1
        except InvalidInput as error:
            bad += 1
            click.echo(f"{path}:{line}: {error}", err=True)
    return added, kept, bad


@subscribers_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--feed", default=None)
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]), default=None)
@with_core(migrate=True)
def export_command(core: core_module.Core, path: str, feed: str | None, status: str | None) -> None:
    """Write subscribers as CSV (email, feed, frequency, status, created_at, confirmed_at);
    PATH `-` writes to standard output."""
    with core.reading() as session:
        if feed is not None:
            catalog.get(session, feed)  # before anything is written: no empty file on a typo
        found = subscriptions.listing(session, feed=feed, status=status)
    with click.open_file(path, "w", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for subscriber in found:
            writer.writerow(
                [
                    subscriber.email,
                    subscriber.feed_slug,
                    subscriber.frequency,
                    subscriber.status,
                    subscriber.created_at.isoformat(),
                    subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
                ]
            )
    # With the CSV on standard output, the count goes to stderr so a pipe gets only the CSV.
    where = "standard output" if path == "-" else path
    click.echo(f"exported {len(found)} subscribers to {where}", err=path == "-")


digest_group = subgroup("digest", "Email digests.")


@digest_group.command("send")
@click.option("--feed", default=None, help="Only this feed (default: all).")
@click.option("--frequency", type=_FREQUENCIES, default=None, help="Only this frequency.")
@click.option("--force", is_flag=True, help="Treat every confirmed subscriber as due now.")
@with_core(migrate=True)
def send_command(
    core: core_module.Core, feed: str | None, frequency: str | None, force: bool
) -> None:
    """Send the digests that are due, and exit when they are sent."""
    warn_if_undeliverable(core.config)
    selection = digests.Selection(feed, Frequency(frequency) if frequency else None, force)
    if feed is not None:
        with core.reading() as session:
            catalog.get(session, feed)
    planned = digests.plan_due(core, selection)
    report = sender.send_pending(core, selection)
    click.echo(
        f"digests: {planned} new; mail sent {report.sent}, deferred {report.deferred}, "
        f"refused {report.failed}, skipped {report.skipped}"
    )
    if report.deferred:
        sys.exit(1)
