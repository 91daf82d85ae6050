"""Alembic's entry point, for `users-api migrate` and for the `alembic` command alike.

`users.adapters.sql.schema` hands over its connection; the `alembic` command (`alembic.ini` at
the top of the checkout) gets one to the database that `USERS_DATABASE_URL` names, and reads no
other setting.
"""

from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from sqlalchemy import URL, Connection

from users.adapters.sql.adoption import ForeignSchema, find_legacy_table
from users.adapters.sql.migration_session import migration_connection
from users.adapters.sql.schema import current_revision, record_step
from users.adapters.sql.tables import metadata
from users.settings import DatabaseSettings


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # True on SQLite too: `migration_connection` runs everything in one real transaction.
        transactional_ddl=True,
        # Unless handed a connection in a transaction: then every step runs in that one.
        transaction_per_migration=True,
        on_version_apply=record_step,
    )
    with context.begin_transaction():
        context.run_migrations()


def refuse_the_replaced_apps_table(connection: Connection) -> None:
    """Only `users-api migrate` adopts it: the `alembic` command would trip over it."""
    try:
        replaced = current_revision(connection) is None and find_legacy_table(connection)
    except ForeignSchema as foreign:
        raise CommandError(str(foreign)) from None
    if replaced:
        raise CommandError(
            "this database holds the replaced app's users table: adopt it with "
            "`users-api migrate` first"
        )


def _database() -> URL:
    settings = DatabaseSettings()
    if settings.store_kind != "sql":
        raise CommandError("USERS_DATABASE_URL names no SQL database: nothing to migrate")
    return settings.database


if context.is_offline_mode():
    raise CommandError("no --sql (offline) mode: migration 0002 computes keys from stored rows")
if (handed_over := context.config.attributes.get("connection")) is not None:
    run_migrations(handed_over)
else:
    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    with migration_connection(_database()) as owned:
        refuse_the_replaced_apps_table(owned)
        if owned.dialect.name == "postgresql":
            owned.commit()  # each step in a transaction of its own, as `users-api migrate` runs
        run_migrations(owned)
        owned.commit()
