"""`syndicator websub ...`: the hub's subscriptions, as the admin API shows them."""

from __future__ import annotations

import click

from syndicator import core as core_module
from syndicator import paging, timestamps
from syndicator.cli import cli, with_core
from syndicator.websub import subscriptions


@cli.group("websub")
def websub_group() -> None:
    """WebSub subscriptions to this hub's feeds: list, remove."""


@websub_group.command("list")
@with_core(migrate=True)
def list_command(core: core_module.Core) -> None:
    """Every subscription: id, status, lease end, topic, callback (secrets are not shown)."""
    with core.reading() as session:
        cursor = None
        while True:
            found, cursor = subscriptions.page(session, paging.Window(100, cursor))
            for row in found:
                status = subscriptions.status_of(row, core.now())
                lease = timestamps.rfc3339_or_none(row.lease_expires_at) or "-"
                click.echo(f"{row.id}\t{status}\t{lease}\t{row.topic}\t{row.callback}")
            if cursor is None:
                return


@websub_group.command("remove")
@click.argument("subscription_id", type=int)
@with_core(migrate=True)
def remove(core: core_module.Core, subscription_id: int) -> None:
    """Delete a subscription and its delivery log; its callback is not asked."""
    with core.transaction() as session:
        subscriptions.remove(session, subscriptions.get(session, subscription_id))
    click.echo(f"websub subscription {subscription_id} removed")
