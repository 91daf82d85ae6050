"""Database URLs as people paste them, and the engines the service reads and writes through,
held to the schemas this build serves on."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from users import deadline
from users.adapters.sql.driver import (
    InlineBeginConnection,
    PositionedCommitConnection,
    cursor_within_deadline,
)
from users.adapters.sql.errors import SchemaNotCurrent
from users.adapters.sql.replicas import Replica, Replicas
from users.adapters.sql.steps import BuildSchema, SchemaRefused

# SQLAlchemy 2.1 reads a bare "postgresql://" as psycopg 3; this service ships psycopg2.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}
REVISIONS = "SELECT version_num FROM alembic_version"
RECORDED_STEPS = "SELECT revision, phase FROM schema_steps"


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
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg2":
        # The statement timeout and the inline BEGIN ride on psycopg2 (`driver.py`).
        raise UnsupportedDatabaseUrl(
            f"{url.drivername!r}: this service reaches PostgreSQL through psycopg2 only; "
            "use postgresql+psycopg2://…"
        )
    return url


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the service talks to its database."""

    pool_size: int = 10
    # How long a statement, or a wait for a connection, may take outside a request's deadline.
    timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 2
    # A replica that has not replayed the primary's position of this long ago is not read.
    replica_max_lag_seconds: float = 1.0


# A read on a replica may take this share of what its request has left, so that the primary
# has the rest when the replica fails it.
REPLICA_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Engines:
    """The service's two connection pools on one database, so that no connection changes mode,
    and its read replicas, if any.

    Reads run each statement on its own (`AUTOCOMMIT`: one round trip, no `BEGIN`, no
    `ROLLBACK`); writes run in a transaction that `commit()` ends.
    """

    reads: Engine
    writes: Engine
    replicas: Replicas | None = None

    def dispose(self) -> None:
        self.reads.dispose()
        self.writes.dispose()
        for engine in self.replicas.engines() if self.replicas else ():
            engine.dispose()

    def checked_out(self) -> int:
        """Connections out of the requests' pools now."""
        pools = [self.reads, self.writes]
        if self.replicas is not None:
            pools += self.replicas.request_engines()
        return sum(_queue_pool(engine).checkedout() for engine in pools)


def create_bookkeeping_engine(url: URL, options: EngineOptions, *, looks: bool = False) -> Engine:
    """One connection for the service's own records (`presence.py`), or (`looks`) for its
    looks at a server (`replicas.py`, one statement each, ten a second: no ping first, a
    broken connection is replaced at the next look), outside the requests' pools so that it
    never takes one of their connections; at any schema."""
    transactions = not looks
    return create_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=not looks,
        pool_timeout=options.timeout_seconds,
        hide_parameters=True,
        connect_args=_connect_args(url, options, transactions=transactions),
        **({} if transactions else {"isolation_level": "AUTOCOMMIT"}),
    )


def _queue_pool(engine: Engine) -> QueuePool:
    pool = engine.pool
    assert isinstance(pool, QueuePool), "create_engine gives a pool of pool_size a QueuePool"
    return pool


def create_engines(
    url: URL, options: EngineOptions, schema: BuildSchema, replica_urls: Sequence[URL] = ()
) -> Engines:
    """Both pools, for a database this build serves on, and one per replica of it."""
    replicas = None
    if replica_urls:
        replicas = Replicas(
            [
                Replica(
                    shown(replica),
                    _engine(replica, options, schema, transactions=False, share=REPLICA_SHARE),
                    create_bookkeeping_engine(replica, options, looks=True),
                )
                for replica in replica_urls
            ],
            create_bookkeeping_engine(url, options, looks=True),
            options.replica_max_lag_seconds,
        )
    return Engines(
        reads=_engine(url, options, schema, transactions=False),
        writes=_engine(url, options, schema, transactions=True, positioned=bool(replicas)),
        replicas=replicas,
    )


def shown(url: URL) -> str:
    """`url` as logs and metrics show it: without its password."""
    return url.render_as_string(hide_password=True)


def _engine(
    url: URL,
    options: EngineOptions,
    schema: BuildSchema,
    *,
    transactions: bool,
    share: float = 1.0,
    positioned: bool = False,
) -> Engine:
    engine = create_engine(
        url,
        pool_size=options.pool_size,
        # Connections opened past the pool would be closed again at once: a new server
        # process per request under load. The entrypoint never runs more requests at once.
        max_overflow=0,
        pool_timeout=options.timeout_seconds,
        # Errors that reach a log name the statement, not the users' data bound to it.
        hide_parameters=True,
        connect_args=_connect_args(
            url, options, transactions=transactions, share=share, positioned=positioned
        ),
        **({} if transactions else {"isolation_level": "AUTOCOMMIT"}),
    )
    hold_to_schema(engine, schema)
    if url.get_backend_name() == "sqlite":
        # After the revision check, so that a file that is not this service's is left alone.
        event.listen(engine, "connect", _write_ahead_log)
    else:
        event.listen(engine, "do_connect", _connect_within_deadline)
    return engine


# libpq counts a connect timeout in whole seconds, and reads anything less than 2 as 2.
_SHORTEST_CONNECT_TIMEOUT = 2


def _connect_within_deadline(
    _dialect: object, _record: object, _arguments: object, parameters: dict[str, Any]
) -> None:
    """A request that opens a connection waits for it no longer than its deadline has left
    (2 s at least: libpq's floor), if that is shorter than the connect timeout."""
    if (left := deadline.seconds_left()) is not None:
        parameters["connect_timeout"] = min(
            parameters["connect_timeout"], max(_SHORTEST_CONNECT_TIMEOUT, math.floor(left))
        )


def hold_to_schema(engine: Engine, schema: BuildSchema) -> None:
    """Let `engine` open connections only to a database this build serves on (`steps.py`).

    Checked once per new connection, so a pooled request pays nothing; a request on any other
    schema (none yet, the replaced app's, an older one, past a contract step) is refused before
    it runs a statement.
    """

    def check(dbapi_connection: Any, _: object) -> None:
        cursor = dbapi_connection.cursor()

        def fetch(sql: str) -> list[Any]:
            cursor.execute(sql)
            return list(cursor.fetchall())

        try:
            refuse_unservable(schema, fetch)
        except SchemaRefused as refused:
            # SQLAlchemy closes the connection and lets an error that is not the driver's pass
            # through `engine.connect()` as it is: the request gets its 503.
            raise SchemaNotCurrent(str(refused)) from None
        finally:
            cursor.close()
            if isinstance(dbapi_connection, InlineBeginConnection):
                dbapi_connection.rollback()  # the check opened a transaction: end it

    event.listen(engine, "connect", check)


def refuse_unservable(schema: BuildSchema, fetch: Callable[[str], Sequence[Any]]) -> None:
    """Refuse (`SchemaRefused`) a database this build cannot serve on, read by `fetch` (the
    rows a query returns)."""
    revisions = [row[0] for row in fetch(REVISIONS)]
    schema.serves_on(revisions, lambda: {row[0]: row[1] for row in fetch(RECORDED_STEPS)})


def _connect_args(
    url: URL,
    options: EngineOptions,
    *,
    transactions: bool,
    share: float = 1.0,
    positioned: bool = False,
) -> dict[str, object]:
    """`share`: of a request's deadline, for each statement; `positioned`: each commit's WAL
    position noted (`consistency`), for a service that reads from replicas."""
    if url.get_backend_name() == "sqlite":
        return {"check_same_thread": False, "timeout": options.timeout_seconds}
    connection: type[psycopg2.extensions.connection] = psycopg2.extensions.connection
    if transactions:
        connection = PositionedCommitConnection if positioned else InlineBeginConnection
    return {
        "connection_factory": connection,
        "cursor_factory": cursor_within_deadline(
            options.timeout_seconds, transactions=transactions, share=share
        ),
        "connect_timeout": options.connect_timeout_seconds,
        "application_name": "users",
        # A peer that vanished without closing is noticed in seconds, not TCP's minutes.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": int(
            (options.connect_timeout_seconds + options.timeout_seconds * share) * 1000
        ),
    }


def _write_ahead_log(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    # Readers keep reading while a writer writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
