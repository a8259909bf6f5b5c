"""The `syndicator` command: a thin client of the core, like the web app and the worker.

User errors, and a database or file the command cannot use, print one line on
stderr and exit non-zero; no tracebacks. Each area adds its commands from its
own module, registered at the bottom.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import update_wrapper
from typing import IO, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.errors import SyndicatorError
from syndicator.mail import transports

config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="Config file (default: $SYNDICATOR_CONFIG, else ./config.toml, else built-in defaults).",
)


class Failure(click.ClickException):
    """A command that cannot do what was asked: one line on stderr, like every other error."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"syndicator: {self.format_message()}", err=True)


def load_config(ctx: click.Context, config_path: str | None) -> config_module.Config:
    """The config named by --config where it was given: on the command, a group, or the root."""
    level: click.Context | None = ctx
    while config_path is None and level is not None:
        config_path = level.params.get("config_path")
        level = level.parent
    return config_module.load(config_path)


@contextmanager
def opened(config: config_module.Config, *, migrate: bool) -> Iterator[core_module.Core]:
    """A built Core, migrated on SQLite when asked, closed afterwards."""
    core = core_module.build(config)
    try:
        core_module.prepare(core, migrate=migrate)
        yield core
    finally:
        core.close()


def with_core(*, migrate: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command a built Core as first argument; --config may follow the command too."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        def run(ctx: click.Context, /, config_path: str | None, **kwargs: Any) -> Any:
            with opened(load_config(ctx, config_path), migrate=migrate) as core:
                return command(core, **kwargs)

        # The command's name, help and click options carry over to `run`.
        update_wrapper(run, command)
        return config_option(click.pass_context(run))

    return decorate


@click.group()
@config_option
@click.version_option(package_name="syndicator")
def cli(config_path: str | None) -> None:
    """Publish a blog's posts as feeds and deliver them to subscribers."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def warn_if_undeliverable(config: config_module.Config) -> None:
    """Commands that send mail say at start when receiving servers would refuse it."""
    if reason := transports.undeliverable(config.email.sender):
        click.echo(
            f"syndicator: warning: mail is sent from {config.email.sender!r}, which mail "
            f"servers will refuse: {reason}. Set [email] from to an address at your domain.",
            err=True,
        )


def subgroup(name: str, summary: str) -> click.Group:
    """A group of commands under `syndicator`; it takes --config too (`posts --config X list`)."""

    def group(config_path: str | None) -> None:
        """Nothing to do: each command reads the config."""

    return cli.group(name, help=summary)(config_option(group))


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SyndicatorError as error:
        click.echo(f"syndicator: {describe(error)}", err=True)
        sys.exit(2)
    except SQLAlchemyError as error:
        click.echo(f"syndicator: database error: {db.reason(error)}", err=True)
        sys.exit(3)
    except OSError as error:
        click.echo(f"syndicator: {error}", err=True)
        sys.exit(3)


def describe(error: SyndicatorError) -> str:
    """The error's message with each field's reason, which the message alone may only name."""
    fields = getattr(error, "fields", None) or {}
    message = str(error)
    reasons = [f"{name}: {reason}" for name, reason in fields.items() if reason not in message]
    return f"{message} ({'; '.join(reasons)})" if reasons else message


# Command modules register themselves on `cli` when imported.
from syndicator.cli import posts, service, stats, subscribers, webhooks, websub  # noqa: E402, F401
