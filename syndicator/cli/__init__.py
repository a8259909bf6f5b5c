"""The `syndicator` command: a thin client of the core, like the web app and the worker.

User errors, and a database or file the command cannot use, print one line on
stderr and exit non-zero; no tracebacks. Each area adds its commands from its
own module, registered at the bottom.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.errors import SyndicatorError

config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="Config file (default: $SYNDICATOR_CONFIG, else ./config.toml, else built-in defaults).",
)


def with_core(*, migrate: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command a built Core as first argument; accept --config after the subcommand too."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        def run(ctx: click.Context, /, config_path: str | None, **kwargs: Any) -> Any:
            path = config_path or ctx.find_root().params.get("config_path")
            core = core_module.build(config_module.load(path))
            try:
                core_module.prepare(core, migrate=migrate)
                return command(core, **kwargs)
            finally:
                core.close()

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


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SyndicatorError as error:
        click.echo(f"syndicator: {error}", err=True)
        sys.exit(2)
    except SQLAlchemyError as error:
        click.echo(f"syndicator: database error: {db.reason(error)}", err=True)
        sys.exit(3)
    except OSError as error:
        click.echo(f"syndicator: {error}", err=True)
        sys.exit(3)


# Command modules register themselves on `cli` when imported.
from syndicator.cli import posts, service, subscribers, webhooks  # noqa: E402, F401
