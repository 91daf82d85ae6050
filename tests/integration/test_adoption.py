"""Taking over the replaced app's database: its users kept with their ids, or nothing changed."""

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import URL, Column, Integer, String, create_engine, inspect, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from tests.integration.commands import users_api
from tests.integration.test_migrations import alembic, alembic_command, pending_changes
from tests.postgres import throwaway_database
from tests.support import app_on
from users.adapters.sql import adoption, schema
from users.adapters.sql.refusals import RowsRefused
from users.adapters.sql.schema import expected_revision, migrate, revision_at


class ReplacedApp(DeclarativeBase):
    pass


class LegacyUser(ReplacedApp):
    """The replaced app's declaration, which made its table with `create_all`."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True, index=True)
    name = Column(String, nullable=False)
    email = Column(String, unique=True, nullable=False)


@pytest.fixture(params=["postgresql", "sqlite"])
def legacy_database(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """An empty database with the replaced app's users table, made as that app made it."""
    if request.param == "postgresql":
        url: URL = request.getfixturevalue("legacy_postgres")
        return url
    url = make_url(f"sqlite:///{tmp_path / 'old-app.db'}")
    run(url, ReplacedApp.metadata.create_all)
    return url


@pytest.fixture
def legacy_postgres(server_url: URL) -> Iterator[URL]:
    with throwaway_database(server_url, "legacy") as url:
        run(url, ReplacedApp.metadata.create_all)
        yield url


def run(url: URL, action: object, *statements: str, **values: object) -> list[tuple[object, ...]]:
    """Run `action(connection)` if callable, then `statements`; the last one's rows."""
    engine = create_engine(url, poolclass=NullPool)
    rows: list[tuple[object, ...]] = []
    try:
        with engine.begin() as connection:
            if callable(action):
                action(connection)
            for statement in statements:
                result = connection.execute(text(statement), values)
                rows = [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
    return rows


def add_legacy(url: URL, *users: tuple[int, str, str]) -> None:
    for user_id, name, email in users:
        run(
            url,
            None,
            "INSERT INTO users (id, name, email) VALUES (:id, :name, :email)",
            id=user_id,
            name=name,
            email=email,
        )


def snapshot(url: URL) -> object:
    """Everything adoption could change: on SQLite the file's bytes; on PostgreSQL the
    catalog's account of the tables, every row as text, and the id sequence."""
    if url.get_backend_name() == "sqlite":
        return hashlib.sha256(Path(str(url.database)).read_bytes()).hexdigest()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            catalog = inspect(connection)
            tables = {
                name: (
                    catalog.get_columns(name),
                    catalog.get_pk_constraint(name),
                    catalog.get_unique_constraints(name),
                    catalog.get_indexes(name),
                )
                for name in catalog.get_table_names()
            }
            rows = connection.execute(text("SELECT u::text FROM users u ORDER BY id")).all()
            sequence = connection.execute(
                text("SELECT pg_sequence_last_value(pg_get_serial_sequence('users', 'id'))")
            ).scalar()
    finally:
        engine.dispose()
    return repr((tables, rows, sequence))


def test_adoption_keeps_every_id_and_new_ids_follow_the_highest(legacy_database: URL) -> None:
    add_legacy(legacy_database, (3, "Ada", "ada@example.com"), (41, "Bob", "bob@example.com"))

    migration = migrate(legacy_database)
    with TestClient(app_on(legacy_database)) as client:
        ada, bob = client.get("/users/3").json(), client.get("/users/41").json()
        newcomer = client.post("/users/", json={"name": "Cy", "email": "cy@example.com"}).json()

    assert (migration.adopted_users, migration.highest_adopted_id) == (2, 41)
    assert (ada["name"], ada["email"], bob["name"], bob["email"]) == (
        "Ada",
        "ada@example.com",
        "Bob",
        "bob@example.com",
    )
    assert newcomer["id"] == 42


def test_ids_the_old_app_gave_to_since_deleted_users_are_not_given_again(
    legacy_postgres: URL,
) -> None:
    # On PostgreSQL its sequence remembers them. (Its SQLite table, without AUTOINCREMENT,
    # reused such ids itself, and keeps no trace of them.)
    run(
        legacy_postgres,
        None,
        "INSERT INTO users (name, email) VALUES ('A', 'a@example.com'), ('B', 'b@example.com')",
        "DELETE FROM users WHERE email = 'b@example.com'",
    )

    migrate(legacy_postgres)
    with TestClient(app_on(legacy_postgres)) as client:
        newcomer = client.post("/users/", json={"name": "C", "email": "c@example.com"}).json()

    assert newcomer["id"] == 3


def test_ids_of_an_old_table_whose_users_were_all_deleted_are_not_given_again(
    legacy_postgres: URL,
) -> None:
    run(
        legacy_postgres,
        None,
        "INSERT INTO users (name, email) VALUES ('A', 'a@example.com'), ('B', 'b@example.com')",
        "DELETE FROM users",
    )

    migration = migrate(legacy_postgres)
    with TestClient(app_on(legacy_postgres)) as client:
        newcomer = client.post("/users/", json={"name": "C", "email": "c@example.com"}).json()

    assert (migration.adopted_users, migration.highest_adopted_id) == (0, 2)
    assert newcomer["id"] == 3


def test_adopted_users_are_stored_as_the_service_stores_them(legacy_database: URL) -> None:
    add_legacy(legacy_database, (7, "  Ada Lovelace ", " Ada.Lovelace@EXAMPLE.com"))
    before = datetime.now(UTC)

    migrate(legacy_database)
    with TestClient(app_on(legacy_database)) as client:
        ada = client.get("/users/7").json()
        found = client.get("/users/", params={"email": "ADA.LOVELACE@example.com"}).json()

    assert (ada["name"], ada["email"]) == ("Ada Lovelace", "Ada.Lovelace@example.com")
    assert found["items"] == [ada]
    # The old app kept no times: both are the moment of adoption.
    assert ada["created_at"] == ada["updated_at"]
    assert datetime.fromisoformat(ada["created_at"]) >= before


def test_adopted_users_are_served_by_every_row_of_the_contract(legacy_database: URL) -> None:
    add_legacy(
        legacy_database,
        (1, "Ada", "ada@example.com"),
        (2, "Bob", "bob@example.com"),
        (5, "Cy", "cy@example.com"),
    )
    migrate(legacy_database)

    with TestClient(app_on(legacy_database)) as client:
        taken = client.post("/users/", json={"name": "Ann", "email": "ADA@example.com"})
        created = client.post("/users/", json={"name": "Di", "email": "di@example.com"})
        read, missing = client.get("/users/2"), client.get("/users/3")
        page = client.get("/users/", params={"limit": 2}).json()
        found = client.get("/users/", params={"email": "CY@EXAMPLE.COM"}).json()
        renamed = client.patch("/users/1", json={"name": "Ada L."})
        clash = client.patch("/users/2", json={"email": "Cy@example.com"})
        deleted = client.delete("/users/5")
        health = client.get("/health")

    assert (taken.status_code, taken.json()) == (400, {"detail": "Email already registered"})
    assert created.status_code == 200
    assert created.json()["id"] > 5
    assert (read.status_code, read.json()["email"], missing.status_code) == (
        200,
        "bob@example.com",
        404,
    )
    assert ([user["id"] for user in page["items"]], page["next_after"]) == ([1, 2], 2)
    assert [user["id"] for user in found["items"]] == [5]
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Ada L.")
    assert clash.status_code == 400
    assert deleted.status_code == 204
    assert health.json() == {"status": "ok", "database": "ok"}


def test_an_adopted_database_has_the_schema_of_a_new_one(legacy_database: URL) -> None:
    add_legacy(legacy_database, (1, "Ada", "ada@example.com"))

    migrate(legacy_database)

    assert revision_at(legacy_database) == expected_revision()
    assert pending_changes(legacy_database) == []


def test_one_address_in_two_letter_cases_is_refused_listing_both_and_nothing_changes(
    legacy_database: URL,
) -> None:
    add_legacy(
        legacy_database,
        (1, "Bob", "bob@example.com"),
        (2, "Bobby", "Bob@Example.com"),
        (3, "Cy", "cy@example.com"),
    )
    before = snapshot(legacy_database)

    refused = users_api("migrate", database_url=legacy_database)

    assert refused.returncode != 0
    assert "cannot adopt the replaced app's users table: 2 rows break" in refused.stderr
    assert "id 1  'bob@example.com'  the same address as id 2" in refused.stderr
    assert "id 2  'Bob@Example.com'  the same address as id 1" in refused.stderr
    assert "Nothing was changed. Fix or delete these rows" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert snapshot(legacy_database) == before


def test_once_the_rows_are_fixed_migrate_adopts_them(legacy_database: URL) -> None:
    add_legacy(legacy_database, (1, "Bob", "bob@example.com"), (2, "Bob", "BOB@example.com"))
    assert users_api("migrate", database_url=legacy_database).returncode != 0
    run(legacy_database, None, "UPDATE users SET email = 'bob.two@example.com' WHERE id = 2")

    adopted = users_api("migrate", database_url=legacy_database)

    assert adopted.returncode == 0, adopted.stderr
    assert "adopted the replaced app's users table (2 users; new ids follow 2)" in adopted.stderr
    assert revision_at(legacy_database) == expected_revision()


def test_every_row_that_breaks_a_rule_is_listed_with_what_is_wrong(legacy_database: URL) -> None:
    add_legacy(
        legacy_database,
        (1, "Ada", "not-an-address"),
        (2, "   ", "blank@example.com"),
        (3, "Cy", "c" * 65 + "@example.com"),
        (4, "Dee\x07", "dee@example.com"),
        (5, "Eve", "eve@example.com"),
    )
    before = snapshot(legacy_database)

    refused = users_api("migrate", database_url=legacy_database)

    lines = refused.stderr.splitlines()
    assert "4 rows break this service's rules" in refused.stderr
    assert [line.split()[1] for line in lines if line.startswith("  id ")] == ["1", "2", "3", "4"]
    assert "the address is refused: An email address must have an @-sign." in refused.stderr
    assert "the name is refused: name must be 1 to 100 characters" in refused.stderr
    assert "too long before the @-sign" in refused.stderr
    assert "the name is refused: name must not contain control characters" in refused.stderr
    assert snapshot(legacy_database) == before


def test_a_row_with_no_name_no_address_or_an_id_below_1_is_refused_and_nothing_changes(
    empty_database: URL,
) -> None:
    # The replaced app's shape, made without NOT NULL: adoption takes it, and checks its rows.
    run(
        empty_database,
        None,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR, email VARCHAR)",
        "INSERT INTO users (id, name, email) VALUES (0, 'Zed', 'zed@example.com'), "
        "(1, NULL, 'ann@example.com'), (2, 'Bo', NULL), (3, 'Cy', 'cy@example.com')",
    )
    before = snapshot(empty_database)

    with pytest.raises(RowsRefused) as refused:
        migrate(empty_database)

    assert str(refused.value).splitlines()[1:4] == [
        "  id 0  'zed@example.com'  the id is not a positive integer",
        "  id 1  'ann@example.com'  the name is not text",
        "  id 2  None  the address is not text",
    ]
    assert snapshot(empty_database) == before


def test_a_users_table_of_another_shape_is_refused_by_name_and_left_alone(
    legacy_database: URL,
) -> None:
    run(legacy_database, None, "ALTER TABLE users ADD COLUMN hashed_password VARCHAR")
    before = snapshot(legacy_database)

    refused = users_api("migrate", database_url=legacy_database)

    assert refused.returncode != 0
    assert (
        "found a table users(id INTEGER, name VARCHAR, email VARCHAR, hashed_password VARCHAR)"
        in (refused.stderr)
    )
    assert "Traceback" not in refused.stderr
    assert snapshot(legacy_database) == before


def test_a_takeover_cut_short_after_the_schema_changed_leaves_the_database_as_it_was(
    legacy_database: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_legacy(legacy_database, (1, "Ada", "ada@example.com"))
    before = snapshot(legacy_database)

    def power_cut(*_: object) -> None:
        raise ConnectionAbortedError("cut short after the old table was dropped")

    monkeypatch.setattr(schema, "put_back", power_cut)
    with pytest.raises(ConnectionAbortedError):
        migrate(legacy_database)

    assert snapshot(legacy_database) == before


def test_a_build_with_a_step_outside_transactions_refuses_to_adopt_in_one_line_changing_nothing(
    legacy_postgres: URL, later: dict[str, str]
) -> None:
    add_legacy(legacy_postgres, (1, "Ada", "ada@example.com"))
    before = snapshot(legacy_postgres)

    refused = users_api("migrate", database_url=legacy_postgres, **later)
    after_refusal = snapshot(legacy_postgres)
    adopted = users_api("migrate", database_url=legacy_postgres)
    then_later = users_api("migrate", database_url=legacy_postgres, **later)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "step 0005 runs outside a transaction" in refused.stderr
    assert "adopt it with an earlier build, then migrate with this one" in refused.stderr
    assert after_refusal == before
    assert (adopted.returncode, then_later.returncode) == (0, 0), then_later.stderr


def assert_not_ready_and_never_a_500(database: URL) -> None:
    with TestClient(app_on(database)) as client:
        answers = [
            client.post("/users/", json={"name": "A", "email": "a@example.com"}),
            client.get("/users/1"),
            client.get("/users/"),
            client.get("/users/", params={"email": "ada@example.com"}),
            client.patch("/users/1", json={"name": "B"}),
            client.delete("/users/1"),
        ]
        readiness, liveness = client.get("/health"), client.get("/health/live")

    assert {(answer.status_code, answer.text) for answer in answers} == {
        (503, '{"detail":"Database unavailable"}')
    }
    assert (readiness.status_code, readiness.json()["database"]) == (503, "schema out of date")
    assert (liveness.status_code, liveness.json()) == (200, {"status": "ok"})


def test_served_unmigrated_on_the_old_database_it_is_not_ready_and_touches_nothing(
    legacy_database: URL,
) -> None:
    add_legacy(legacy_database, (1, "Ada", "ada@example.com"))
    before = snapshot(legacy_database)

    assert_not_ready_and_never_a_500(legacy_database)

    assert snapshot(legacy_database) == before


def test_served_unmigrated_on_an_empty_database_it_is_not_ready(empty_database: URL) -> None:
    assert_not_ready_and_never_a_500(empty_database)


def test_served_on_an_older_revision_it_is_not_ready(empty_database: URL) -> None:
    alembic(empty_database, command.upgrade, "0001")

    assert_not_ready_and_never_a_500(empty_database)


def test_an_old_app_that_keeps_its_table_busy_is_waited_for_briefly_then_refused(
    legacy_postgres: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_legacy(legacy_postgres, (1, "Ada", "ada@example.com"))
    monkeypatch.setattr(adoption, "LOCK_WAIT", "200ms")
    old_app = create_engine(legacy_postgres, poolclass=NullPool)

    with old_app.connect() as busy, busy.begin():
        busy.execute(text("UPDATE users SET name = 'Ada L.' WHERE id = 1"))
        with pytest.raises(adoption.TableInUse, match="stop the old app for good"):
            migrate(legacy_postgres)
    old_app.dispose()

    assert revision_at(legacy_postgres) is None


def test_a_takeover_the_database_cancels_is_not_blamed_on_the_old_app_and_changes_nothing(
    legacy_postgres: URL,
) -> None:
    add_legacy(legacy_postgres, (1, "Ada", "ada@example.com"))
    # The operator's limit on every statement: shorter than adoption's wait for the old app.
    database = legacy_postgres.database
    run(legacy_postgres, None, f'ALTER DATABASE "{database}" SET statement_timeout = 200')
    before = snapshot(legacy_postgres)
    old_app = create_engine(legacy_postgres, poolclass=NullPool)

    with old_app.connect() as busy:  # its transaction, never committed
        busy.execute(text("UPDATE users SET name = 'Ada L.' WHERE id = 1"))
        with pytest.raises(OperationalError, match="canceling statement due to statement timeout"):
            migrate(legacy_postgres)
    old_app.dispose()

    assert snapshot(legacy_postgres) == before


def test_services_starting_together_adopt_once(legacy_database: URL) -> None:
    add_legacy(legacy_database, *((i, f"User {i}", f"user-{i}@example.com") for i in range(1, 500)))

    with ThreadPoolExecutor(max_workers=2) as starting:
        migrations = list(starting.map(migrate, [legacy_database, legacy_database]))

    assert sorted(migration.adopted_users or 0 for migration in migrations) == [0, 499]
    assert revision_at(legacy_database) == expected_revision()


def test_the_alembic_command_leaves_the_old_database_to_users_api_migrate(
    legacy_database: URL,
) -> None:
    add_legacy(legacy_database, (1, "Ada", "ada@example.com"))
    before = snapshot(legacy_database)

    upgraded = alembic_command(legacy_database, "upgrade", "head")

    assert upgraded.returncode != 0
    assert "FAILED: this database holds the replaced app's users table: adopt it with" in (
        upgraded.stdout
    )
    assert snapshot(legacy_database) == before


def test_the_alembic_command_refuses_a_users_table_of_another_shape_by_name(
    legacy_database: URL,
) -> None:
    run(legacy_database, None, "ALTER TABLE users ADD COLUMN hashed_password VARCHAR")
    before = snapshot(legacy_database)

    upgraded = alembic_command(legacy_database, "upgrade", "head")

    assert upgraded.returncode != 0
    assert (
        "FAILED: found a table users(id INTEGER, name VARCHAR, email VARCHAR, hashed_password "
        "VARCHAR) with no schema revision of this service's"
    ) in upgraded.stdout
    assert snapshot(legacy_database) == before
