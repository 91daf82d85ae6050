"""Alembic's entry point: migrates the connection that `users.adapters.sql.schema` hands over."""

from alembic import context
from sqlalchemy import Connection, text

from users.adapters.sql.tables import metadata

# Any constant will do: it keeps two services that start together from migrating at once.
_MIGRATION_LOCK = 7_203_441


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        context.run_migrations()


run_migrations(context.config.attributes["connection"])
