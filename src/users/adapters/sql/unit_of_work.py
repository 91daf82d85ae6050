"""A unit of work on a SQL database: reads run on their own, the first write opens a transaction."""

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, NestedTransaction, RootTransaction

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
        self._bind = bind
        self._transaction: RootTransaction | NestedTransaction | None = None

    def __enter__(self) -> Self:
        if isinstance(self._bind, Engine):
            with domain_errors():
                self._connection = self._bind.connect()
        else:
            self._connection = self._bind
        self.users = SqlAlchemyUserRepository(self._connection, before_write=self._begin)
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
            if self._connection is not self._bind:
                self._connection.close()

    def commit(self) -> None:
        if self._transaction is not None:
            with domain_errors():
                self._transaction.commit()
            self._transaction = None

    def _begin(self) -> None:
        if self._transaction is not None:
            return
        if self._connection is self._bind:
            self._transaction = self._connection.begin_nested()
            return
        # Reads so far ran in autocommit; end SQLAlchemy's bookkeeping of them, then open
        # a real transaction on the same connection.
        self._connection.commit()
        self._connection.execution_options(
            isolation_level=self._connection.dialect.default_isolation_level
        )
        self._transaction = self._connection.begin()
