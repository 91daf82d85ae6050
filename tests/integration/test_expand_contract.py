"""Builds sharing one PostgreSQL database across a schema change made in expand and contract
steps: this build, and a later one (`later_build`) that renames `users.name` to `full_name`."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, Connection, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from tests.contracts.http import register
from tests.integration.commands import serving, users_api
from tests.integration.test_faults import terminate_other_connections
from tests.postgres import throwaway_database
from tests.support import app_on, free_port, random_email, wait_until
from users.adapters.sql.schema import expected_revision, migrate, revision_at

T = TypeVar("T")
UNAVAILABLE = (503, '{"detail":"Database unavailable"}')
LOCK_TIMEOUT_SECONDS = 0.5
# What answering takes beyond the bound itself, on a busy two-core machine.
SLACK_SECONDS = 1.0


@pytest.fixture
def database(server_url: URL) -> Iterator[URL]:
    """A database of its own, migrated by this build."""
    with throwaway_database(server_url, "expand") as url:
        migrate(url)
        yield url


def columns_of(url: URL) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return {column["name"] for column in inspect(engine).get_columns("users")}
    finally:
        engine.dispose()


@contextmanager
def connection_to(url: URL) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def test_expand_this_build_serves_on_as_ready_and_a_later_build_sees_its_writes(
    database: URL, later: dict[str, str]
) -> None:
    with TestClient(app_on(database)) as this:
        user = register(this, name="Ann")

        expanded = users_api("migrate", database_url=database, **later)
        renamed = this.patch(f"/users/{user['id']}", json={"name": "Anne"})
        terminate_other_connections(database)  # every request from here opens a connection
        answers = [this.get(f"/users/{user['id']}"), this.post("/users/", json=new())]
        readiness = this.get("/health")
        migrated_again = users_api("migrate", database_url=database)

        with serving(database, free_port(), PYTHONPATH=later["PYTHONPATH"]) as newer:
            seen_by_later = httpx2.get(f"{newer.url}/users/{user['id']}")
            written_by_later = httpx2.patch(
                f"{newer.url}/users/{user['id']}", json={"name": "Annie"}
            )
        seen_by_this = this.get(f"/users/{user['id']}")

    assert expanded.returncode == 0, expanded.stderr
    assert "contract steps 0006 wait for `users-api migrate --contract`" in expanded.stderr
    assert renamed.status_code == 200
    assert [answer.status_code for answer in answers] == [200, 200]
    assert readiness.status_code == 200
    assert migrated_again.returncode == 0, migrated_again.stderr
    assert "at schema revision 0005: already up to date" in migrated_again.stderr
    # The later build reads full_name: the database kept it in step with this build's write.
    assert (seen_by_later.status_code, seen_by_later.json()) == (200, renamed.json())
    assert seen_by_later.headers["etag"] == renamed.headers["etag"]
    assert written_by_later.status_code == 200
    assert seen_by_this.json() == written_by_later.json()


def test_expand_contract_waits_until_no_older_build_serves_then_runs(
    database: URL, later: dict[str, str]
) -> None:
    assert users_api("migrate", database_url=database, **later).returncode == 0
    with TestClient(app_on(database)) as this:
        this.get("/health")
        refused = users_api("migrate", "--contract", database_url=database, **later)
        revision_while_serving = revision_at(database)
    contracted = users_api("migrate", "--contract", database_url=database, **later)

    with TestClient(app_on(database)) as this:
        readiness = this.get("/health")
        answer = this.get("/users/")
    this_build_migrates = users_api("migrate", database_url=database)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "contract step 0006 removes what builds before it need" in refused.stderr
    assert revision_while_serving == "0005"
    assert contracted.returncode == 0, contracted.stderr
    assert "name" not in columns_of(database)
    assert (readiness.status_code, readiness.json()["database"]) == (503, "schema out of date")
    assert (answer.status_code, answer.text) == UNAVAILABLE
    assert this_build_migrates.returncode == 1
    assert "past contract step 0006 that this build does not know" in this_build_migrates.stderr


def test_expand_a_later_build_gives_an_empty_database_every_step_its_index_built_concurrently(
    server_url: URL, later: dict[str, str]
) -> None:
    with throwaway_database(server_url, "expand") as empty:
        created = users_api("migrate", database_url=empty, **later)
        revision, index_valid = stamped_and_index_valid(empty)
        columns = columns_of(empty)

    assert created.returncode == 0, created.stderr
    assert "migrated from an empty database" in created.stderr
    assert (revision, index_valid) == ("0006", True)
    assert "full_name" in columns
    assert "name" not in columns


def test_expand_a_step_cut_short_after_its_commit_runs_again_to_the_end(
    database: URL, later: dict[str, str]
) -> None:
    # What a first try leaves when its concurrent index fails: the work before the autocommit
    # block committed, an invalid index, and the revision not moved on.
    with TestClient(app_on(database)) as this:
        register(this, name="Ann")
        register(this, name="Ann")
    with connection_to(database) as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text("ALTER TABLE users ADD COLUMN full_name varchar(100)"))
        autocommit.execute(text("UPDATE users SET full_name = name"))
        with pytest.raises(IntegrityError):
            autocommit.execute(
                text("CREATE UNIQUE INDEX CONCURRENTLY ix_users_full_name ON users (full_name)")
            )
    left = stamped_and_index_valid(database)

    migrated = users_api("migrate", database_url=database, **later)

    assert left == (expected_revision(), False)
    assert migrated.returncode == 0, migrated.stderr
    assert stamped_and_index_valid(database) == ("0005", True)


def stamped_and_index_valid(url: URL) -> tuple[str, bool | None]:
    """The revision `alembic_version` records, and whether the later build's index is valid."""
    with connection_to(url) as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        valid = connection.execute(
            text(
                "SELECT indisvalid FROM pg_index "
                "WHERE indexrelid = to_regclass('ix_users_full_name')"
            )
        ).scalar()
    return revision, valid


def test_a_request_on_a_dead_connection_past_a_schema_it_serves_on_is_a_503_never_a_500(
    database: URL,
) -> None:
    with TestClient(app_on(database)) as this:
        user = register(this)
        with connection_to(database) as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
            connection.commit()
        terminate_other_connections(database)
        answers = [
            this.get(f"/users/{user['id']}"),
            this.post("/users/", json=new()),
            this.patch(f"/users/{user['id']}", json={"name": "Renamed"}),
        ]
        readiness = this.get("/health")

    assert {(answer.status_code, answer.text) for answer in answers} == {UNAVAILABLE}
    assert (readiness.status_code, readiness.json()["database"]) == (503, "schema out of date")


def test_lock_timeout_a_migration_behind_a_long_transaction_gives_way_to_traffic_then_completes(
    database: URL, later: dict[str, str]
) -> None:
    with TestClient(app_on(database)) as this, connection_to(database) as report:
        user = register(this)
        report.execute(text("SELECT count(*) FROM users"))  # holds its lock until it ends
        with traffic(this, user["id"]) as answers:
            migration = in_background(
                partial(
                    users_api,
                    "migrate",
                    database_url=database,
                    USERS_MIGRATION_LOCK_TIMEOUT_SECONDS=str(LOCK_TIMEOUT_SECONDS),
                    **later,
                )
            )
            wait_until(lambda: waits_for_a_lock(database), 30, "the migration behind the report")
            answered = len(answers)
            wait_until(lambda: len(answers) > answered + 200, 30, "traffic beside the migration")
            waited_for_the_report = migration.running()
            report.rollback()
            migrated = migration.result(timeout=60)

    assert waited_for_the_report
    assert migrated.returncode == 0, migrated.stderr
    assert "full_name" in columns_of(database)
    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < LOCK_TIMEOUT_SECONDS + SLACK_SECONDS


def test_lock_timeout_a_migration_that_never_gets_its_lock_fails_cleanly_changing_nothing(
    database: URL, later: dict[str, str]
) -> None:
    with TestClient(app_on(database)) as this, connection_to(database) as report:
        user = register(this)
        report.execute(text("SELECT count(*) FROM users"))
        with traffic(this, user["id"]) as answers:
            started = time.monotonic()
            migrated = users_api(
                "migrate",
                database_url=database,
                USERS_MIGRATION_LOCK_TIMEOUT_SECONDS=str(LOCK_TIMEOUT_SECONDS),
                **later,
            )
            elapsed = time.monotonic() - started
        report.rollback()

    assert migrated.returncode == 1
    # Five tries, each waiting for the lock, backing off 0.5, 1, 2 and 4 s between them.
    assert elapsed >= 5 * LOCK_TIMEOUT_SECONDS + 0.5 + 1 + 2 + 4
    assert migrated.stderr.count("\n") == 1
    assert "gave way to traffic each time" in migrated.stderr
    assert revision_at(database) == expected_revision()
    assert "full_name" not in columns_of(database)
    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < LOCK_TIMEOUT_SECONDS + SLACK_SECONDS


def waits_for_a_lock(url: URL) -> bool:
    """Whether a migration's statement is waiting for a table's lock now."""
    with connection_to(url) as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'users migrate' "
                "AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE%'"
            )
        ).scalar_one()
    return bool(waiting)


def new() -> dict[str, str]:
    return {"name": "New", "email": random_email()}


@contextmanager
def traffic(client: TestClient, user_id: object) -> Iterator[list[tuple[int, float]]]:
    """Reads and registrations without pause, each answer's status and seconds."""
    answers: list[tuple[int, float]] = []
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            started = time.monotonic()
            if len(answers) % 2:
                status = client.get(f"/users/{user_id}").status_code
            else:
                status = client.post("/users/", json=new()).status_code
            answers.append((status, time.monotonic() - started))

    clients = [threading.Thread(target=send) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: len(answers) > 20, 10, "traffic under way")
        yield answers
    finally:
        stop.set()
        for thread in clients:
            thread.join()


def in_background(run: Callable[[], T]) -> Future[T]:
    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(run)
    executor.shutdown(wait=False)
    return future
