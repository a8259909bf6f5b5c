"""Engine, sessions and schema migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, UpdateBase, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
WRITES = "syndicator_writes"  # execution option: this connection's transactions will write
# What the database raises when it cannot be reached or used right now, not for a bad statement.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs to be safe under load."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy manage transactions instead of the sqlite3 module's own guessing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # With the sqlite3 module's own transaction handling off, SQLAlchemy starts each one.
    # A write transaction takes the write lock up front (waiting up to busy_timeout for
    # it): a deferred one that later upgrades fails at once with "database is locked"
    # when another writer committed since it began reading.
    writes = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def refresh_statistics(engine: Engine, tables: tuple[str, ...]) -> None:
    """After rows were loaded in bulk. PostgreSQL plans by statistics that autovacuum
    gathers later (or never, where it is off): a plan made while a table was empty walks
    it whole once it is full. SQLite's planner assumes selective indexes without any."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def session_factory(engine: Engine, *, writes: bool = False) -> sessionmaker[Session]:
    """Sessions for reading, or (`writes`) for transactions that change rows."""
    bind = engine.execution_options(**{WRITES: True}) if writes else engine
    return sessionmaker(bind, expire_on_commit=False)


def writer(engine: Engine) -> Engine:
    """The engine for Core-level write transactions (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(**{WRITES: True})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory.begin() as session:
        yield session


@dataclass(frozen=True)
class Upgrade:
    """The schema revision before and after an upgrade (before None: a new database)."""

    before: str | None
    after: str | None


def upgrade(engine: Engine) -> Upgrade:
    """Create or migrate the schema to the newest revision."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return Upgrade(before, MigrationContext.configure(connection).get_current_revision())


def reason(error: Exception) -> str:
    """The driver's own one-line message, without SQLAlchemy's SQL dump and links."""
    text_ = str(getattr(error, "orig", None) or error).strip()
    return text_.splitlines()[0] if text_ else type(error).__name__


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class Direct:
    """A Core statement compiled once per database and run on the driver's own cursor.

    For the few statements that run for every message sent: SQLAlchemy's
    per-execution work (cache lookup, events, result set-up) cost several times
    what SQLite itself spends on them. The statement, its SQL and its types stay
    SQLAlchemy's; only the execution is direct, in the connection's transaction.
    Errors come back as SQLAlchemy's, as from `Connection.execute`.
    """

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self.plans: dict[str, _Plan] = {}

    def run(self, connection: Connection, params: dict[str, Any]) -> int:
        """Execute with `params` (by bind parameter name); the number of rows it changed."""
        dialect = connection.dialect
        plan = self.plans.get(dialect.name)
        if plan is None:
            plan = self.plans[dialect.name] = _Plan(self.statement, dialect)
        values = plan.values(params)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(plan.sql, values)
            return int(cursor.rowcount)
        except dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                plan.sql, values, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        finally:
            cursor.close()


class _Plan:
    """A statement's SQL for one dialect, and how to turn parameters into the driver's."""

    def __init__(self, statement: UpdateBase, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # (name in the SQL, key the caller passes, whether it must, constant value, conversion)
        self.binds: list[tuple[str, str, bool, Any, Callable[[Any], Any] | None]] = []
        for bind, name in compiled.bind_names.items():
            assert not bind.expanding and bind.callable is None, "one plain value per parameter"
            default = None if bind.required else bind.value
            convert = bind.type.bind_processor(dialect)
            self.binds.append((name, bind.key, bind.required, default, convert))
        self.order = compiled.positiontup  # None: the driver takes names

    def values(self, params: dict[str, Any]) -> Any:
        named: dict[str, Any] = {}
        for name, key, required, default, convert in self.binds:
            value = params[key] if required else params.get(key, default)
            named[name] = value if convert is None else convert(value)
        if self.order is None:
            return named
        return tuple(named[name] for name in self.order)
