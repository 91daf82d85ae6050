"""The schema is the migrations': they apply, undo, and match the tables the code uses."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import URL, create_engine, inspect, make_url
from sqlalchemy.pool import NullPool

from tests.integration.postgres import throwaway_database
from users.adapters.sql.schema import downgrade_to_base, upgrade_to_head
from users.adapters.sql.tables import metadata


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    if request.param == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    server_url: URL = request.getfixturevalue("server_url")
    with throwaway_database(server_url, "migrations") as url:
        yield url


def tables_of(url: URL) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def pending_changes(url: URL) -> list[object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))
    finally:
        engine.dispose()


def test_upgrading_an_empty_database_creates_the_schema(empty_database: URL) -> None:
    upgrade_to_head(empty_database)

    assert tables_of(empty_database) == {"alembic_version", "users"}


def test_the_tables_match_the_migrations(empty_database: URL) -> None:
    upgrade_to_head(empty_database)

    assert pending_changes(empty_database) == []


def test_upgrading_twice_changes_nothing(empty_database: URL) -> None:
    upgrade_to_head(empty_database)
    upgrade_to_head(empty_database)

    assert pending_changes(empty_database) == []


def test_downgrading_to_base_removes_the_schema(empty_database: URL) -> None:
    upgrade_to_head(empty_database)

    downgrade_to_base(empty_database)

    assert tables_of(empty_database) <= {"alembic_version"}
