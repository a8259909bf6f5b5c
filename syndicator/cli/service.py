"""Running the service: serve, web, worker, db upgrade, import, tick, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syndicator import core as core_module
from syndicator import db, forking, worker
from syndicator.cli import (
    Failure,
    cli,
    config_option,
    load_config,
    opened,
    subgroup,
    warn_if_undeliverable,
    with_core,
)
from syndicator.config import Config
from syndicator.posts import importer, store
from syndicator.stats import flusher


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@config_option
@click.pass_context
def serve(ctx: click.Context, config_path: str | None, host: str, port: int) -> None:
    """The production WSGI server and the scheduler, in one process."""
    _run_web(load_config(ctx, config_path), host, port, with_scheduler=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@config_option
@click.pass_context
def web(ctx: click.Context, config_path: str | None, host: str, port: int) -> None:
    """The web server only (the scheduler runs elsewhere: `syndicator worker`)."""
    _run_web(load_config(ctx, config_path), host, port, with_scheduler=False)


def _run_web(config: Config, host: str, port: int, *, with_scheduler: bool) -> None:
    """Take the port first: a busy one is one line, before anything has started."""
    from syndicator.web import create_app, server

    try:
        sockets = server.listen(host, port)
    except OSError as error:
        reason = error.strerror or str(error)
        raise Failure(
            f"cannot listen on {host}:{port}: {reason} (choose another --port?)"
        ) from None
    served = server.url_of(host, sockets)
    with opened(config.served_at(served), migrate=True) as core:
        if with_scheduler:
            warn_if_undeliverable(core.config)
        _import_at_start(core)
        app = create_app(core=core)
        scheduler = worker.start_in_background(core) if with_scheduler else None
        counting = flusher.start(core)
        base_url = core.config.site.base_url
        if "site.base_url" in core.config.derived:
            click.echo(f"syndicator serving {served}/ (links use it: [site] base_url is not set)")
        else:
            click.echo(f"syndicator serving {base_url} on {served}/")
        try:
            server.create(app, sockets, settings=core.config.server).run()
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if counting is not None:
                counting.stop()


@cli.command("worker")
@with_core(migrate=True)
def worker_command(core: core_module.Core) -> None:
    """The scheduler and delivery loop only."""
    warn_if_undeliverable(core.config)
    click.echo(f"syndicator worker polling every {core.config.scheduler.poll_seconds:g}s")
    worker.run_forever(core)


db_group = subgroup("db", "Database schema.")


@db_group.command("upgrade")
@with_core(migrate=False)
def db_upgrade(core: core_module.Core) -> None:
    """Create or migrate the schema."""
    done = db.upgrade(core.engine)
    where = core.engine.url.render_as_string(hide_password=True)
    if done.before is None:
        click.echo(f"created the database schema (revision {done.after}) in {where}")
    elif done.before != done.after:
        click.echo(f"migrated the database schema from {done.before} to {done.after} in {where}")
    else:
        click.echo(f"the database schema is up to date (revision {done.after}) in {where}")


@db_group.command("recount")
@with_core(migrate=True)
def db_recount(core: core_module.Core) -> None:
    """Recompute the listing counts and tag rows from the posts (after SQL by hand)."""
    with core.transaction() as session:
        repaired = store.repair_listings(session, core.now())
    found = repaired.counts
    click.echo(
        f"recounted {found.rows} count rows: {found.wrong} were wrong and are fixed; "
        f"tag rows fixed in {len(repaired.tag_rows_feeds)} feeds"
    )
    if changed := sorted(found.feeds | repaired.tag_rows_feeds):
        click.echo(f"feeds whose pages change: {', '.join(changed)}")


@cli.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@with_core(migrate=True)
def import_command(core: core_module.Core, path: Path | None) -> None:
    """Sync the content folder into the database."""
    folder = _content_folder(core, path)
    if not folder.is_dir():
        raise Failure(f"the content folder {folder} does not exist; nothing was imported")
    report = _import(core, folder)
    _print_import(report)
    if report.errors:
        sys.exit(1)


def _content_folder(core: core_module.Core, path: Path | None = None) -> Path:
    return path or core.config.path(core.config.storage.content_dir)


def _import_at_start(core: core_module.Core) -> None:
    """`serve`, `web` and `export` import the folder first; without one, the database is all."""
    folder = _content_folder(core)
    if folder.is_dir():
        _print_import(_import(core, folder))
    else:
        click.echo(f"no content folder at {folder}: only posts in the database are published")


def _import(core: core_module.Core, folder: Path) -> importer.SyncReport:
    return importer.sync(core, folder)


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
@click.option(
    "--incremental/--full",
    default=True,
    show_default=True,
    help="Fetch only the feeds that changed since the last export into DIR, "
    "or every page again. Either way only files whose bytes changed are rewritten.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=forking.usable_cpus,
    show_default="the CPUs this process may use",
    help="Fetch the pages in this many processes.",
)
@with_core(migrate=True)
def export(core: core_module.Core, directory: Path, incremental: bool, jobs: int) -> None:
    """Write every feed and page as static files mirroring the URL paths."""
    _import_at_start(core)
    from syndicator.web import create_app
    from syndicator.web.export import export as write_export

    app = create_app(core=core)
    report = write_export(app, core, directory, incremental=incremental, jobs=jobs)
    click.echo(
        f"exported {report.files} files to {directory}: {len(report.written)} written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed"
    )
