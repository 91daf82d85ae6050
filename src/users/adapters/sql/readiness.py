"""Holding a SQL store to the schema revision this build was written for."""

from typing import Any

from sqlalchemy import Engine, event, text

from users.adapters.sql.errors import SchemaNotCurrent

REVISIONS = text("SELECT version_num FROM alembic_version")


def require_revision(engine: Engine, expected: str) -> None:
    """Let `engine` open connections only to a database at the `expected` schema revision.

    Checked once per new connection, so a pooled request pays nothing; a request on any other
    schema (none yet, the replaced app's, an older one) is refused before it runs a statement.
    """

    def check(dbapi_connection: Any, _: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(REVISIONS.text)
            revisions = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()
        if revisions != [expected]:
            # SQLAlchemy closes the connection and lets an error that is not the driver's pass
            # through `engine.connect()` as it is: the request gets its 503.
            raise SchemaNotCurrent(f"schema revision {revisions}, expected {expected}")

    event.listen(engine, "connect", check)
