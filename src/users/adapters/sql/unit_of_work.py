"""A unit of work on a SQL database: reads run on their own, the first write opens a transaction."""

from types import TracebackType
from typing import Any, Self

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    NestedTransaction,
    RootTransaction,
)
from sqlalchemy.exc import DBAPIError

from users.adapters.sql.errors import domain_errors
from users.adapters.sql.repository import SqlAlchemyUserRepository


class SqlAlchemyUnitOfWork:
    """The `UnitOfWork` port over an engine, or joined into a caller's open connection.

    Over an engine (in `AUTOCOMMIT` mode) each read is a statement of its own, so a read-only
    unit costs one round trip; the first write switches the connection to a transaction.
    Joined into a connection that is already in a transaction (the tests' rollback fixture),
    writes go into a savepoint, so `commit()` keeps them only as long as the caller does.
    """

    users: SqlAlchemyUserRepository

    def __init__(self, bind: Engine | Connection) -> None:
        self._engine = bind if isinstance(bind, Engine) else None
        self._joined = bind if isinstance(bind, Connection) else None
        self._transaction: RootTransaction | NestedTransaction | None = None
        self._untouched = True

    def __enter__(self) -> Self:
        self._connection = self._joined or self._connect()
        self._transaction = None
        self._untouched = True
        self.users = SqlAlchemyUserRepository(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._transaction = None
            if self._joined is None:
                self._connection.close()

    def commit(self) -> None:
        if self._transaction is not None:
            with domain_errors():
                self._transaction.commit()
            self._transaction = None

    def execute(
        self, statement: Executable, values: dict[str, Any], *, write: bool = False
    ) -> CursorResult[Any]:
        """Run one statement, inside the transaction if it writes; domain errors on failure."""
        with domain_errors():
            try:
                return self._execute(statement, values, write=write)
            except DBAPIError as error:
                if not (error.connection_invalidated and self._untouched and self._joined is None):
                    raise
            # The pooled connection had died while idle (a restart, a killed backend): nothing
            # ran on it, so the first statement runs again on a fresh one. Cheaper than pinging
            # every connection at every checkout.
            self._connection.close()
            self._transaction = None
            self._connection = self._connect()
            return self._execute(statement, values, write=write)

    def _execute(
        self, statement: Executable, values: dict[str, Any], *, write: bool
    ) -> CursorResult[Any]:
        if write and self._transaction is None:
            self._transaction = self._begin()
        result = self._connection.execute(statement, values)
        self._untouched = False
        return result

    def _begin(self) -> RootTransaction | NestedTransaction:
        if self._joined is not None:
            return self._connection.begin_nested()
        # Reads so far ran in autocommit; end SQLAlchemy's bookkeeping of them, then open
        # a real transaction on the same connection.
        self._connection.commit()
        dialect = self._connection.dialect
        try:
            self._connection.execution_options(isolation_level=dialect.default_isolation_level)
        except dialect.loaded_dbapi.Error as error:
            # SQLAlchemy leaves this call's driver errors unwrapped; a connection that died
            # while idle can fail here first.
            disconnected = dialect.is_disconnect(error, None, None)
            if disconnected:
                self._connection.invalidate(error)
            raise DBAPIError.instance(
                None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=disconnected
            ) from error
        return self._connection.begin()

    def _connect(self) -> Connection:
        assert self._engine is not None
        with domain_errors():
            return self._engine.connect()
