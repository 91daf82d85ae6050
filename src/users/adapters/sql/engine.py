"""Database URLs as people paste them, and the engines the service reads and writes through."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

from users.adapters.sql.readiness import require_revision

# SQLAlchemy 2.1 reads a bare "postgresql://" as psycopg 3; this service ships psycopg2.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


class UnsupportedDatabaseUrl(ValueError):
    """A database URL that cannot be parsed or names a driver that is not installed."""


def database_url(raw: str) -> URL:
    """Parse `raw`, give PostgreSQL the installed driver, and check that its driver imports."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise UnsupportedDatabaseUrl("not a database URL") from None
    url = url.set(drivername=_DEFAULT_DRIVERS.get(url.drivername, url.drivername))
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as error:
        raise UnsupportedDatabaseUrl(
            f"{url.drivername!r} needs a driver that is not installed ({error}); "
            "use postgresql+psycopg2://… or sqlite:///…"
        ) from None
    return url


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the service talks to its database."""

    pool_size: int = 10
    pool_timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 2
    statement_timeout_ms: int = 5000


@dataclass(frozen=True, slots=True)
class Engines:
    """The service's two connection pools on one database, so that no connection changes mode.

    Reads run each statement on its own (`AUTOCOMMIT`: one round trip, no `BEGIN`, no
    `ROLLBACK`); writes run in a transaction that `commit()` ends.
    """

    reads: Engine
    writes: Engine

    def dispose(self) -> None:
        self.reads.dispose()
        self.writes.dispose()


def create_engines(url: URL, options: EngineOptions, schema_revision: str) -> Engines:
    """Both pools, for a database at `schema_revision`."""
    return Engines(
        reads=_engine(url, options, schema_revision, isolation_level="AUTOCOMMIT"),
        writes=_engine(url, options, schema_revision),
    )


def _engine(url: URL, options: EngineOptions, schema_revision: str, **mode: Any) -> Engine:
    engine = create_engine(
        url,
        pool_size=options.pool_size,
        # Connections opened past the pool would be closed again at once: a new server
        # process per request under load. The entrypoint never runs more requests at once.
        max_overflow=0,
        pool_timeout=options.pool_timeout_seconds,
        # Errors that reach a log name the statement, not the users' data bound to it.
        hide_parameters=True,
        connect_args=_connect_args(url, options),
        **mode,
    )
    require_revision(engine, schema_revision)
    if url.get_backend_name() == "sqlite":
        # After the revision check, so that a file that is not this service's is left alone.
        event.listen(engine, "connect", _write_ahead_log)
    return engine


def _connect_args(url: URL, options: EngineOptions) -> dict[str, object]:
    if url.get_backend_name() == "sqlite":
        return {"check_same_thread": False, "timeout": options.pool_timeout_seconds}
    return {
        "connect_timeout": options.connect_timeout_seconds,
        "options": f"-c statement_timeout={options.statement_timeout_ms}",
        "application_name": "users",
        # A peer that vanished without closing is noticed in seconds, not TCP's minutes.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": options.connect_timeout_seconds * 1000 + options.statement_timeout_ms,
    }


def _write_ahead_log(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    # Readers keep reading while a writer writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
