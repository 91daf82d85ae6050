"""A connection to migrate on: alone among migrating services, and every wait bounded (the
connect, the wait for another migration, each step's locks)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from users.adapters.sql.errors import is_lock_not_available
from users.adapters.sql.refusals import MigrationRefused

# Any constant will do: it keeps two services that start together from migrating at once.
_MIGRATION_LOCK = 7_203_441


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    """How long a migration waits, and for what."""

    connect_timeout_seconds: int = 2
    # How long a step waits for a table's lock while requests queue behind it.
    lock_timeout_seconds: float = 2.0
    # How many times a run that could not get a lock is tried, waiting longer each time.
    attempts: int = 5
    # How long to wait for another service's migration to end.
    wait_seconds: float = 60.0


@contextmanager
def migration_connection(url: URL, options: MigrationOptions | None = None) -> Iterator[Connection]:
    """A connection alone among migrating services; the caller commits.

    On PostgreSQL a second connection holds the advisory lock in a transaction for the whole
    run (through PgBouncer too), so that the steps may commit one by one; every transaction on
    the first runs under `lock_timeout`. On SQLite each transaction takes the write lock at
    BEGIN, and waits for it as for the advisory lock.
    """
    options = options or MigrationOptions()
    engine = migration_engine(url, options)
    try:
        with _alone(engine, options), engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def migration_engine(url: URL, options: MigrationOptions) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"timeout": options.wait_seconds}
        )
        # pysqlite would commit before DDL; SQLAlchemy's documented recipe lets it through
        # in the transaction. IMMEDIATE takes the write lock at once: migrations take turns.
        event.listen(engine, "connect", _sqlite_leaves_transactions_to_us)
        event.listen(
            engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE")
        )
        return engine
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": options.connect_timeout_seconds,
            "application_name": "users migrate",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        },
    )
    lock_timeout = _set_local_lock_timeout(options.lock_timeout_seconds)

    def bounded_locks(connection: Connection) -> None:
        # Not in Alembic's autocommit blocks (CREATE INDEX CONCURRENTLY), which have no
        # transaction to set it in, and whose lock lets reads and writes through.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql(lock_timeout)

    event.listen(engine, "begin", bounded_locks)
    return engine


@contextmanager
def _alone(engine: Engine, options: MigrationOptions) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as holder:
        holder.exec_driver_sql(_set_local_lock_timeout(options.wait_seconds))
        try:
            holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        except OperationalError as error:
            if not is_lock_not_available(error):
                raise
            raise MigrationRefused(
                f"another service's migration has held the migration lock for "
                f"{options.wait_seconds:g} s (USERS_MIGRATION_WAIT_SECONDS): try again once "
                "it has ended"
            ) from None
        yield
        holder.rollback()


def _set_local_lock_timeout(seconds: float) -> str:
    """This transaction waits `seconds` for a lock; a millisecond at least, since 0 would be
    PostgreSQL's "no timeout"."""
    return f"SET LOCAL lock_timeout = '{max(1, round(seconds * 1000))}ms'"


def _sqlite_leaves_transactions_to_us(dbapi_connection: object, _: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
