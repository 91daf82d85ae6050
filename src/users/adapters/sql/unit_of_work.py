"""A unit of work on a SQL database: one pooled connection, in a transaction unless read-only."""

from typing import Any, Self

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.exc import DBAPIError

from users.adapters.sql.engine import Engines
from users.adapters.sql.errors import as_domain_errors
from users.adapters.sql.key_records import SqlAlchemyKeyRecords
from users.adapters.sql.repository import SqlAlchemyUserRepository
from users.domain.errors import WriteInReadOnlyUnit


class SqlAlchemyUnitOfWork:
    """The `UnitOfWork` port: open, work, `commit()`; whatever was not committed is rolled back.

    Which pool the connection comes from is decided when the unit opens: a read-only unit runs
    each statement on its own, any other unit runs in one transaction.
    """

    users: SqlAlchemyUserRepository

    def __init__(self, engines: Engines, *, read_only: bool = False) -> None:
        self._engine = engines.reads if read_only else engines.writes
        self._read_only = read_only

    def __enter__(self) -> Self:
        with as_domain_errors:
            self.connection = UnitConnection(self._engine.connect(), read_only=self._read_only)
        self.users = SqlAlchemyUserRepository(self.connection)
        return self

    @property
    def keys(self) -> SqlAlchemyKeyRecords:
        """Built when asked for: most requests bring no idempotency key."""
        return SqlAlchemyKeyRecords(self.connection, self._engine.dialect.name)

    def __exit__(self, *_: object) -> None:
        self.connection.close()

    def commit(self) -> None:
        self.connection.commit()


class UnitConnection:
    """A unit of work's pooled connection, as its repositories run statements on it: a database
    error becomes the domain's, and a read-only unit refuses every write."""

    def __init__(self, connection: Connection, *, read_only: bool) -> None:
        self._connection = connection
        self._read_only = read_only
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
            raise WriteInReadOnlyUnit(str(statement))
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
