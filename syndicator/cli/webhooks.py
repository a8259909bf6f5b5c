"""`syndicator webhooks ...`: the same endpoint operations as the admin API."""

from __future__ import annotations

from typing import Any

import click

from syndicator import core as core_module
from syndicator import paging
from syndicator.cli import Failure, subgroup, with_core
from syndicator.delivery import queue
from syndicator.models import EndpointStatus
from syndicator.webhooks import channel, endpoints

webhooks_group = subgroup(
    "webhooks", "Webhook endpoints: add, list, disable, enable, rotate, test, remove."
)


@webhooks_group.command("add")
@click.argument("url")
@click.option("--event", "event_types", multiple=True, help="Only this event (repeatable).")
@click.option("--feed", "feed_slugs", multiple=True, help="Only this feed (repeatable).")
@click.option("--description", default="")
@with_core(migrate=True)
def add(
    core: core_module.Core,
    url: str,
    event_types: tuple[str, ...],
    feed_slugs: tuple[str, ...],
    description: str,
) -> None:
    """Register URL; prints the endpoint id and its signing secret."""
    fields: dict[str, Any] = {
        "url": url,
        "events": list(event_types),
        "feeds": list(feed_slugs),
        "description": description,
    }
    with core.transaction() as session:
        endpoint = endpoints.create(
            session,
            fields,
            now=core.now(),
            allow_private=core.config.webhooks.allow_private_targets,
            resolver=core.resolver,
        )
        click.echo(f"webhook {endpoint.id} added for {endpoint.url}")
        click.echo(f"secret: {endpoint.secret}")


@webhooks_group.command("list")
@with_core(migrate=True)
def list_command(core: core_module.Core) -> None:
    """Every endpoint with its status (secrets are not shown)."""
    with core.reading() as session:
        cursor = None
        while True:
            found, cursor = endpoints.page(session, paging.Window(100, cursor))
            for endpoint in found:
                filters = ",".join(endpoints.event_filter(endpoint)) or "all events"
                feeds = ",".join(endpoints.feed_filter(endpoint)) or "all feeds"
                reason = f" ({endpoint.disabled_reason})" if endpoint.disabled_reason else ""
                click.echo(
                    f"{endpoint.id}\t{endpoint.status}{reason}\t{endpoint.url}\t{filters}\t{feeds}"
                )
            if cursor is None:
                return


def _set_status(core: core_module.Core, endpoint_id: int, status: EndpointStatus) -> None:
    reason = "disabled by an administrator" if status == EndpointStatus.DISABLED else None
    with core.transaction() as session:
        endpoint = endpoints.get(session, endpoint_id)
        endpoints.set_status(endpoint, status, reason, core.now())
    click.echo(f"webhook {endpoint_id} is {status}")


@webhooks_group.command("disable")
@click.argument("endpoint_id", type=int)
@with_core(migrate=True)
def disable(core: core_module.Core, endpoint_id: int) -> None:
    """Stop sending to an endpoint (its pending messages wait)."""
    _set_status(core, endpoint_id, EndpointStatus.DISABLED)


@webhooks_group.command("enable")
@click.argument("endpoint_id", type=int)
@with_core(migrate=True)
def enable(core: core_module.Core, endpoint_id: int) -> None:
    """Send to an endpoint again, including the messages that waited."""
    _set_status(core, endpoint_id, EndpointStatus.ACTIVE)


@webhooks_group.command("rotate")
@click.argument("endpoint_id", type=int)
@with_core(migrate=True)
def rotate(core: core_module.Core, endpoint_id: int) -> None:
    """A new secret; the old one keeps signing for 24 hours."""
    with core.transaction() as session:
        secret = endpoints.rotate_secret(endpoints.get(session, endpoint_id), core.now())
    click.echo(f"secret: {secret}")
    click.echo("the previous secret also signs for the next 24 hours")


@webhooks_group.command("test")
@click.argument("endpoint_id", type=int)
@with_core(migrate=True)
def test(core: core_module.Core, endpoint_id: int) -> None:
    """Send a webhook.test event now and show the answer."""
    message_id = channel.send_test(core, endpoint_id)
    with core.reading() as session:
        attempts = queue.attempts_of(session, [message_id])[message_id]
    if not attempts:
        raise Failure("the test message is queued; a worker is sending it")
    last = attempts[0]
    answer = f"HTTP {last.status_code}" if last.status_code else "no answer"
    click.echo(f"{answer} in {last.duration_ms} ms" + (f": {last.error}" if last.error else ""))
    if last.error or not 200 <= (last.status_code or 0) < 300:
        raise Failure("the test delivery failed; it will be retried on schedule")


@webhooks_group.command("remove")
@click.argument("endpoint_id", type=int)
@with_core(migrate=True)
def remove(core: core_module.Core, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    with core.transaction() as session:
        endpoints.remove(session, endpoints.get(session, endpoint_id))
    click.echo(f"webhook {endpoint_id} removed")
