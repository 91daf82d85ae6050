"""Whether a SQL store can serve this build: it answers, at the schema revision the build wants."""

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, TimeoutError

from users.adapters.sql.errors import is_schema_mismatch
from users.domain.errors import StoreUnavailable
from users.domain.ports import StoreStatus

_REVISIONS = "SELECT version_num FROM alembic_version"


class SchemaNotCurrent(StoreUnavailable):
    """The database answers, but at a schema revision other than this build's."""


def require_revision(engine: Engine, expected: str) -> None:
    """Let `engine` open connections only to a database at the `expected` schema revision.

    Checked once per new connection, so a pooled request pays nothing; a request on any other
    schema (none yet, the replaced app's, an older one) is refused before it runs a statement.
    """

    def check(dbapi_connection: Any, _: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(_REVISIONS)
            revisions = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()
        if revisions != [expected]:
            # SQLAlchemy closes the connection and lets an error that is not the driver's pass
            # through `engine.connect()` as it is: the request gets its 503.
            raise SchemaNotCurrent(f"schema revision {revisions}, expected {expected}")

    event.listen(engine, "connect", check)


class SqlStoreProbe:
    """The `StoreProbe` of a SQL database: one query, on a connection of the service's pool."""

    def __init__(self, engine: Engine, expected_revision: str) -> None:
        self._engine = engine
        self._expected = [expected_revision]

    def __call__(self) -> StoreStatus:
        try:
            revisions = self._revisions()
        except SchemaNotCurrent:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        except DBAPIError as error:
            if is_schema_mismatch(error):
                return StoreStatus.SCHEMA_OUT_OF_DATE
            return StoreStatus.UNREACHABLE
        except TimeoutError:
            return StoreStatus.UNREACHABLE
        if revisions != self._expected:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        return StoreStatus.OK

    def _revisions(self) -> list[str]:
        try:
            return self._read_revisions()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        # The pooled connection had died while idle (a restart, a killed backend); as for any
        # request, a fresh one gets one more try.
        return self._read_revisions()

    def _read_revisions(self) -> list[str]:
        with self._engine.connect() as connection:
            return list(connection.exec_driver_sql(_REVISIONS).scalars())
