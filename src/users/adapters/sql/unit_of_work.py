"""A unit of work on a SQL database: one pooled connection, in a transaction unless read-only;
a read-only unit's on a replica when one is fit (`replicas.py`)."""

from collections.abc import Callable
from typing import Any, Self

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from users.adapters.sql.engine import Engines
from users.adapters.sql.errors import as_domain_errors
from users.adapters.sql.key_records import SqlAlchemyKeyRecords
from users.adapters.sql.repository import SqlAlchemyUserRepository
from users.domain.errors import StoreUnavailable, WriteInReadOnlyUnit

# What a replica may fail a read with, before the primary serves it: any database error,
# a refused schema (a replica behind a migration) included.
_REPLICA_FAILURES = (SQLAlchemyError, StoreUnavailable)


class SqlAlchemyUnitOfWork:
    """The `UnitOfWork` port: open, work, `commit()`; whatever was not committed is rolled back.

    Which pool the connection comes from is decided when the unit opens: a read-only unit runs
    each statement on its own, on a fit replica if there is one (`on_primary`: never), any other
    unit runs in one transaction on the primary.
    """

    users: SqlAlchemyUserRepository

    def __init__(
        self, engines: Engines, *, read_only: bool = False, on_primary: bool = False
    ) -> None:
        self._engine = engines.reads if read_only else engines.writes
        self._read_only = read_only
        # Where a read may go, and where it went: when there are replicas.
        self._replicas = None if not read_only or on_primary else engines.replicas
        self._replica = None if self._replicas is None else self._replicas.choose()

    def __enter__(self) -> Self:
        if self._replica is None:
            with as_domain_errors:
                connection = self._engine.connect()
            self.connection = UnitConnection(connection, read_only=self._read_only)
        else:
            self.connection = UnitConnection(
                self._replica_connection(), read_only=True, on_failure=self._to_primary
            )
        self.users = SqlAlchemyUserRepository(self.connection)
        return self

    @property
    def keys(self) -> SqlAlchemyKeyRecords:
        """Built when asked for: most requests bring no idempotency key."""
        return SqlAlchemyKeyRecords(self.connection, self._engine.dialect.name)

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self.connection.close()
        if self._replicas is not None and error_type is None:
            served = self._replicas.primary_reads if self._replica is None else self._replica.reads
            served.add()

    def commit(self) -> None:
        self.connection.commit()

    def _replica_connection(self) -> Connection:
        assert self._replica is not None, "only a unit on a replica has one"
        try:
            return self._replica.engine.connect()
        except _REPLICA_FAILURES as error:
            return self._to_primary(error, broke=True)

    def _to_primary(self, error: Exception, *, broke: bool = False) -> Connection:
        """The replica failed a read: the primary serves it. The replica rests if its connection
        broke; not for a statement cut short (by its deadline, say, or by the replica's replay),
        as resting replicas under load would send all their reads to the primary."""
        assert self._replica is not None, "only a unit on a replica falls back"
        broke = broke or not isinstance(error, DBAPIError) or error.connection_invalidated
        self._replica.failed(error, rest=broke)
        self._replica = None
        with as_domain_errors:
            return self._engine.connect()


class UnitConnection:
    """A unit of work's pooled connection, as its repositories run statements on it: a database
    error becomes the domain's, and a read-only unit refuses every write. A unit on a replica
    has `on_failure` give it the primary's connection when the replica fails it."""

    def __init__(
        self,
        connection: Connection,
        *,
        read_only: bool,
        on_failure: Callable[[Exception], Connection] | None = None,
    ) -> None:
        self._connection = connection
        self._read_only = read_only
        self._on_failure = on_failure
        self._untouched = True

    def commit(self) -> None:
        with as_domain_errors:
            self._connection.commit()

    def close(self) -> None:
        """Back to the pool, rolling back on the way whatever was not committed."""
        self._connection.close()

    def execute(self, statement: Executable, values: dict[str, Any]) -> CursorResult[Any]:
        """Run one statement; the domain's errors on failure."""
        if self._read_only and statement.is_dml:
            raise WriteInReadOnlyUnit()
        if self._on_failure is not None:
            return self._on_replica(statement, values)
        with as_domain_errors:
            try:
                return self._connection.execute(statement, values)
            except DBAPIError as error:
                if not (error.connection_invalidated and self._untouched):
                    raise
                # The pooled connection had died while idle (a restart, a killed backend):
                # nothing ran on it, so the statement runs again on a fresh one. Cheaper than
                # pinging every connection at every checkout.
                self._connection.rollback()
                return self._connection.execute(statement, values)
            finally:
                self._untouched = False

    def _on_replica(self, statement: Executable, values: dict[str, Any]) -> CursorResult[Any]:
        """Run a read on the replica; if it fails there, whatever the failure, on the primary."""
        assert self._on_failure is not None
        try:
            return self._connection.execute(statement, values)
        except _REPLICA_FAILURES as error:
            self._connection.close()
            self._connection = self._on_failure(error)
            self._on_failure = None
            return self.execute(statement, values)
