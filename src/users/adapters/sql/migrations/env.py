"""Alembic's entry point, for `users-api migrate` and for the `alembic` command alike.

`users.adapters.sql.schema` hands over its connection; the `alembic` command (`alembic.ini` at
the top of the checkout) gets one to the database that `USERS_DATABASE_URL` names.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from users.adapters.sql.engine import database_url
from users.adapters.sql.schema import migration_connection
from users.adapters.sql.tables import metadata
from users.settings import Settings


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if (handed_over := context.config.attributes.get("connection")) is not None:
    run_migrations(handed_over)
else:
    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    configured = database_url(Settings().database_url.get_secret_value())
    with migration_connection(configured) as connection:
        run_migrations(connection)
