"""The schema is the migrations': they apply, undo, re-key, and match the tables the code uses."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import URL, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from tests.support import app_on
from users.adapters.sql.migration_session import migration_connection
from users.adapters.sql.refusals import RowsRefused
from users.adapters.sql.schema import (
    alembic_config,
    expected_revision,
    migrate,
    revision_at,
)
from users.adapters.sql.tables import metadata

CHECKOUT = Path(__file__).parents[2]
ALEMBIC = str(Path(sys.executable).parent / "alembic")


def alembic(url: URL, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command on `url` as `users-api migrate` runs them: one transaction."""
    with migration_connection(url) as connection, connection.begin():
        action(alembic_config(connection), revision)


def tables_of(url: URL) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def columns_of(url: URL, table: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return [column["name"] for column in inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


def pending_changes(url: URL) -> list[object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))
    finally:
        engine.dispose()


def run_sql(url: URL, statement: str, **values: object) -> list[tuple[object, ...]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), values)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def alembic_command(
    url: URL | str, *args: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    """The `alembic` command, run from the checkout as the docs say, on `url`, with `variables`
    (USERS_*) set."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    return subprocess.run(
        [ALEMBIC, *args],
        cwd=CHECKOUT,
        env={**os.environ, "USERS_DATABASE_URL": url, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrating_an_empty_database_creates_the_schema(empty_database: URL) -> None:
    migration = migrate(empty_database)

    assert (migration.before, migration.after) == (None, expected_revision())
    assert tables_of(empty_database) == {
        "alembic_version",
        "users",
        "idempotency_keys",
        "schema_steps",
        "serving_builds",
    }


def test_the_tables_match_the_migrations(empty_database: URL) -> None:
    migrate(empty_database)

    assert pending_changes(empty_database) == []


def test_migrating_twice_changes_nothing(empty_database: URL) -> None:
    migrate(empty_database)

    again = migrate(empty_database)

    assert again.before == again.after == expected_revision()
    assert pending_changes(empty_database) == []


def test_downgrading_to_base_removes_the_schema(empty_database: URL) -> None:
    migrate(empty_database)

    alembic(empty_database, command.downgrade, "base")

    assert tables_of(empty_database) <= {"alembic_version"}


def test_a_database_downgraded_under_the_running_service_is_not_ready_and_never_a_500(
    empty_database: URL,
) -> None:
    migrate(empty_database)
    with TestClient(app_on(empty_database)) as client:
        # Its connections are opened, and checked, at the current revision.
        user = client.post("/users/", json={"name": "Ann", "email": "ann@example.com"}).json()
        client.get("/health")

        alembic(empty_database, command.downgrade, "0002")
        answers = [
            client.get(f"/users/{user['id']}"),
            client.get("/users/"),
            client.patch(f"/users/{user['id']}", json={"name": "Anne"}),
        ]
        readiness = client.get("/health")

    assert {(answer.status_code, answer.text) for answer in answers} == {
        (503, '{"detail":"Database unavailable"}')
    }
    assert (readiness.status_code, readiness.json()["database"]) == (503, "schema out of date")


ADDRESSES_KEYED_BY_0001 = [
    (1, "straße@example.com", "strasse@example.com"),
    (2, "ﬁle@example.com", "file@example.com"),
    (3, "Bob@example.com", "bob@example.com"),
]


def insert_keyed(url: URL, rows: list[tuple[int, str, str]]) -> None:
    for user_id, email, key in rows:
        run_sql(
            url,
            "INSERT INTO users (id, name, email, email_key, created_at, updated_at) "
            "VALUES (:id, 'Someone', :email, :key, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            id=user_id,
            email=email,
            key=key,
        )


def keys_of(url: URL) -> list[tuple[object, ...]]:
    return run_sql(url, "SELECT id, email_key FROM users ORDER BY id")


def test_0002_keys_addresses_by_lower_case_and_0001_by_folding_again(empty_database: URL) -> None:
    alembic(empty_database, command.upgrade, "0001")
    insert_keyed(empty_database, ADDRESSES_KEYED_BY_0001)

    migrate(empty_database)
    upgraded = keys_of(empty_database)
    alembic(empty_database, command.downgrade, "0001")

    assert upgraded == [
        (1, "straße@example.com"),
        (2, "ﬁle@example.com"),
        (3, "bob@example.com"),
    ]
    assert keys_of(empty_database) == [
        (user_id, key) for user_id, _, key in ADDRESSES_KEYED_BY_0001
    ]


def test_a_downgrade_that_would_merge_two_people_is_refused_and_changes_nothing(
    empty_database: URL,
) -> None:
    migrate(empty_database)
    insert_keyed(
        empty_database,
        [
            (1, "straße@example.com", "straße@example.com"),
            (2, "strasse@example.com", "strasse@example.com"),
        ],
    )

    with pytest.raises(RowsRefused) as refused:
        alembic(empty_database, command.downgrade, "0001")

    assert [offence.user_id for offence in refused.value.offences] == [1, 2]
    assert "id 1  'straße@example.com'  the same address as id 2" in str(refused.value)
    assert revision_at(empty_database) == expected_revision()
    assert keys_of(empty_database) == [(1, "straße@example.com"), (2, "strasse@example.com")]


def test_0003_puts_stored_users_at_their_first_version_and_keeps_keys_until_undone(
    empty_database: URL,
) -> None:
    alembic(empty_database, command.upgrade, "0002")
    insert_keyed(empty_database, [(1, "ann@example.com", "ann@example.com")])

    migrate(empty_database)
    versions = run_sql(empty_database, "SELECT id, version FROM users")
    tables_at_head = tables_of(empty_database)
    alembic(empty_database, command.downgrade, "0002")

    assert versions == [(1, 1)]
    assert "idempotency_keys" in tables_at_head
    assert "idempotency_keys" not in tables_of(empty_database)
    assert columns_of(empty_database, "users") == [
        "id",
        "name",
        "email",
        "email_key",
        "created_at",
        "updated_at",
    ]
    assert run_sql(empty_database, "SELECT id, email FROM users") == [(1, "ann@example.com")]


def test_the_alembic_command_upgrades_the_configured_database(empty_database: URL) -> None:
    upgraded = alembic_command(empty_database, "upgrade", "head")

    assert upgraded.returncode == 0, upgraded.stderr
    assert revision_at(empty_database) == expected_revision()


def test_the_alembic_command_reads_no_setting_but_the_database_url(empty_database: URL) -> None:
    upgraded = alembic_command(
        empty_database, "upgrade", "head", USERS_API_TOKEN="", USERS_WORKERS="abc"
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert revision_at(empty_database) == expected_revision()


def test_the_alembic_command_on_the_in_memory_store_is_refused_in_one_line() -> None:
    refused = alembic_command("memory://", "upgrade", "head")

    assert refused.returncode != 0
    assert "FAILED: USERS_DATABASE_URL names no SQL database: nothing to migrate" in refused.stdout


def test_autogenerate_finds_nothing_to_change_in_a_migrated_database(
    empty_database: URL,
) -> None:
    migrate(empty_database)

    checked = alembic_command(empty_database, "check")

    assert checked.returncode == 0, checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr


def test_offline_mode_is_refused_in_one_line(empty_database: URL) -> None:
    offline = alembic_command(empty_database, "upgrade", "head", "--sql")

    assert offline.returncode != 0
    assert "FAILED: no --sql (offline) mode" in offline.stdout


def test_an_autogenerated_revision_of_the_current_tables_is_empty(
    empty_database: URL, tmp_path: Path
) -> None:
    # A copy of the migrations, so that the revision it writes stays out of the checkout.
    scripts = shutil.copytree(
        CHECKOUT / "src/users/adapters/sql/migrations",
        tmp_path / "migrations",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        (CHECKOUT / "alembic.ini")
        .read_text()
        .replace("script_location = users.adapters.sql:migrations", f"script_location = {scripts}")
    )
    migrate(empty_database)

    generated = alembic_command(
        empty_database, "-c", str(ini), "revision", "--autogenerate", "--rev-id", "9999", "-m", "x"
    )

    assert generated.returncode == 0, generated.stderr
    [revision] = scripts.glob("versions/9999_*.py")
    assert "op." not in revision.read_text()
    subprocess.run([sys.executable, "-m", "ruff", "format", "--check", revision], check=True)
