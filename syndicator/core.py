"""The composition root: builds the database, clock, caches and metrics from a Config.

Web, worker and CLI all start here; tests pass their own config (and clock)
and get an isolated instance. Wiring only: no rules live in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from syndicator import db
from syndicator.config import Config
from syndicator.delivery import ssrf
from syndicator.errors import StorageUnavailable
from syndicator.feeds import catalog
from syndicator.feeds.cache import RenderCache, VersionBoard
from syndicator.metrics import Metrics
from syndicator.stats.tally import Tally
from syndicator.urls import Urls
from syndicator.writelock import FifoLock

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Core:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    writers: sessionmaker[Session]
    clock: Clock
    urls: Urls
    # How webhook hosts become addresses for the SSRF guard (tests inject their own).
    resolver: ssrf.Resolver = ssrf.system_resolver
    metrics: Metrics = field(default_factory=Metrics)
    cache: RenderCache = field(default_factory=RenderCache)
    versions: VersionBoard = field(init=False)
    tally: Tally = field(init=False)

    def __post_init__(self) -> None:
        self.versions = VersionBoard(self._read_versions)
        self.tally = Tally(
            timezone=self.timezone,
            trusted_proxies=self.config.server.trusted_proxies,
            min_poll_seconds=self.config.feeds.min_poll_seconds,
        )
        self._write_turn: AbstractContextManager[object] = (
            FifoLock() if db.is_sqlite(self.engine) else nullcontext()
        )

    def _read_versions(self) -> dict[str, tuple[int, datetime]]:
        try:
            with self.sessions() as session:
                return catalog.versions(session)
        except db.UNAVAILABLE as error:
            raise StorageUnavailable(db.reason(error)) from error

    def now(self) -> datetime:
        return self.clock()

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.config.site.timezone)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success; this process's caches see the change at once.

        On SQLite this process's writers take turns in arrival order first (see
        syndicator.writelock).
        """
        with self._write_turn, db.transaction(self.writers) as session:
            yield session
        self.versions.invalidate()

    @contextmanager
    def writing(self, connection: Connection) -> Iterator[Connection]:
        """A write transaction on a connection the caller keeps open (the mail sender's
        one per run), queued with `transaction()`'s."""
        with self._write_turn, connection.begin():
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries only."""
        with self.sessions() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def build(
    config: Config, *, clock: Clock = system_clock, resolver: ssrf.Resolver = ssrf.system_resolver
) -> Core:
    engine = db.make_engine(config.database_url)
    return Core(
        config=config,
        engine=engine,
        sessions=db.session_factory(engine),
        writers=db.session_factory(engine, writes=True),
        clock=clock,
        urls=Urls(config.site.base_url, tuple(config.websub.also_ping)),
        resolver=resolver,
    )


def prepare(core: Core, *, migrate: bool) -> None:
    """Start-up work shared by serve, web and worker: migrate SQLite when asked."""
    if migrate and db.is_sqlite(core.engine):
        db.upgrade(core.engine)
