"""Whether a SQL store can serve this build: it answers, at the schema revision the build wants."""

from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from users.adapters.sql.errors import SchemaNotCurrent, as_domain_errors
from users.domain.errors import StoreUnavailable
from users.domain.ports import StoreStatus

_REVISIONS = "SELECT version_num FROM alembic_version"


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
    """The `StoreProbe` of a SQL database: one query on a pooled connection, as a request's."""

    def __init__(self, engine: Engine, expected_revision: str) -> None:
        self._engine = engine
        self._expected = [expected_revision]

    def __call__(self) -> StoreStatus:
        try:
            with as_domain_errors, self._engine.connect() as connection:
                revisions = list(connection.execute(text(_REVISIONS)).scalars())
        except SchemaNotCurrent:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        except (StoreUnavailable, DBAPIError):
            # Whatever else the database answers (a permission refused, say), it cannot serve.
            return StoreStatus.UNREACHABLE
        if revisions != self._expected:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        return StoreStatus.OK
