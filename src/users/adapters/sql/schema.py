"""The schema, owned by the Alembic migrations shipped in this package."""

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, create_engine
from sqlalchemy.pool import NullPool


def upgrade_to_head(url: URL) -> None:
    """Bring the database at `url` to the latest schema."""
    _run(url, lambda config: command.upgrade(config, "head"))


def downgrade_to_base(url: URL) -> None:
    """Undo every migration: the database ends with no table of this service."""
    _run(url, lambda config: command.downgrade(config, "base"))


def _run(url: URL, migrate: Callable[[Config], None]) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            config = Config()
            config.set_main_option("script_location", "users.adapters.sql:migrations")
            config.attributes["connection"] = connection
            migrate(config)
            connection.commit()
    finally:
        engine.dispose()
