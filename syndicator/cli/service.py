"""Running the service: serve, web, worker, db upgrade, import, tick, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syndicator import core as core_module
from syndicator import db, worker
from syndicator.cli import cli, with_core
from syndicator.posts import importer


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_core(migrate=True)
def serve(core: core_module.Core, host: str, port: int) -> None:
    """The production WSGI server and the scheduler, in one process."""
    _run_web(core, host, port, with_scheduler=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_core(migrate=True)
def web(core: core_module.Core, host: str, port: int) -> None:
    """The web server only (the scheduler runs elsewhere: `syndicator worker`)."""
    _run_web(core, host, port, with_scheduler=False)


def _run_web(core: core_module.Core, host: str, port: int, *, with_scheduler: bool) -> None:
    from syndicator.web import create_app, server

    _print_import(_import(core))
    app = create_app(core=core)
    scheduler = worker.start_in_background(core) if with_scheduler else None
    click.echo(f"syndicator serving {core.config.site.base_url} on http://{host}:{port}/")
    try:
        server.create(app, host=host, port=port, settings=core.config.server).run()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@cli.command("worker")
@with_core(migrate=True)
def worker_command(core: core_module.Core) -> None:
    """The scheduler and delivery loop only."""
    click.echo(f"syndicator worker polling every {core.config.scheduler.poll_seconds:g}s")
    worker.run_forever(core)


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_core(migrate=False)
def db_upgrade(core: core_module.Core) -> None:
    """Create or migrate the schema."""
    db.upgrade(core.engine)
    click.echo("database schema is up to date")


@cli.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@with_core(migrate=True)
def import_command(core: core_module.Core, path: Path | None) -> None:
    """Sync the content folder into the database."""
    report = _import(core, path)
    _print_import(report)
    if report.errors:
        sys.exit(1)


def _import(core: core_module.Core, path: Path | None = None) -> importer.SyncReport:
    folder = path or core.config.path(core.config.storage.content_dir)
    with core.transaction() as session:
        return importer.sync(session, folder, core.timezone, core.now())


def _print_import(report: importer.SyncReport) -> None:
    for error in report.errors:
        click.echo(f"error: {error.path}: {error.reason}", err=True)
    click.echo(
        f"imported: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.deleted)} deleted, {len(report.unchanged)} unchanged, "
        f"{len(report.errors)} bad files"
    )


@cli.command()
@with_core(migrate=True)
def tick(core: core_module.Core) -> None:
    """Run every due job once and exit."""
    report = worker.tick(core)
    click.echo(
        f"tick: {len(report.went_live)} scheduled posts went live, "
        f"{report.webhooks_sent} webhook attempts, {report.mails_sent} mails sent"
    )


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@with_core(migrate=True)
def export(core: core_module.Core, directory: Path) -> None:
    """Write every feed and page as static files mirroring the URL paths."""
    _print_import(_import(core))
    from syndicator.web import create_app
    from syndicator.web.export import export as write_export

    written = write_export(create_app(core=core), core, directory)
    click.echo(f"exported {len(written)} files to {directory}")
