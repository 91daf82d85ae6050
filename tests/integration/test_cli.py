"""The `users-api` command as an operator meets it."""

import json
import logging
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tests.integration.commands import serving, users_api
from tests.support import app_on, free_port
from users.adapters.sql.schema import expected_revision

PASSWORD = "hunter2-do-not-log"


def test_an_unreachable_database_is_one_clear_line_without_the_password() -> None:
    url = f"postgresql://users:{PASSWORD}@127.0.0.1:{free_port()}/users"

    migrated = users_api("migrate", database_url=url)

    assert migrated.returncode != 0
    assert (
        "cannot migrate the database at postgresql+psycopg2://users:***@127.0.0.1"
        in migrated.stderr
    )
    assert "Traceback" not in migrated.stderr
    assert PASSWORD not in migrated.stderr + migrated.stdout


def test_a_driver_that_is_not_installed_is_named() -> None:
    refused = users_api("migrate", database_url="postgresql+psycopg://users@db/users")

    assert refused.returncode != 0
    assert "'postgresql+psycopg' needs a driver that is not installed" in refused.stderr


def test_a_bare_postgresql_url_is_served_by_psycopg2(database_url: URL) -> None:
    bare = database_url.set(drivername="postgresql")

    migrated = users_api("migrate", database_url=bare.render_as_string(hide_password=False))

    assert migrated.returncode == 0, migrated.stderr


def test_errors_and_logs_never_show_the_password(caplog: pytest.LogCaptureFixture) -> None:
    url = make_url(f"postgresql://users:{PASSWORD}@127.0.0.1:{free_port()}/users")

    with caplog.at_level(logging.DEBUG), TestClient(app_on(url)) as client:
        responses = [client.get("/users/1"), client.get("/health")]

    assert [response.status_code for response in responses] == [503, 503]
    assert all(PASSWORD not in response.text for response in responses)
    assert PASSWORD not in caplog.text


def test_migrate_says_where_the_database_is_and_what_it_did(empty_database: URL) -> None:
    where = f"database {empty_database.render_as_string()} at schema revision {expected_revision()}"

    first = users_api("migrate", database_url=empty_database)
    again = users_api("migrate", database_url=empty_database)

    assert first.returncode == again.returncode == 0
    assert f"{where}: migrated from an empty database" in first.stderr
    assert f"{where}: already up to date" in again.stderr


@pytest.mark.parametrize(
    ("tampering", "refusal"),
    [
        (
            "UPDATE alembic_version SET version_num = '0999'",
            "schema revision '0999', which this build does not know",
        ),
        (
            "INSERT INTO alembic_version VALUES ('0001')",
            "the database records several schema revisions",
        ),
    ],
)
def test_a_schema_revision_this_build_cannot_follow_is_refused_in_one_line(
    empty_database: URL, tampering: str, refusal: str
) -> None:
    assert users_api("migrate", database_url=empty_database).returncode == 0
    with create_engine(empty_database, poolclass=NullPool).begin() as connection:
        connection.execute(text(tampering))

    refused = users_api("migrate", database_url=empty_database)

    assert refused.returncode != 0
    assert refusal in refused.stderr
    assert "Traceback" not in refused.stderr


def test_settings_that_cannot_work_stop_the_command_in_one_line_each() -> None:
    refused = users_api(
        "serve", database_url="memory://", USERS_WORKERS="abc", USERS_LOG_LEVEL="loud"
    )

    assert refused.returncode != 0
    assert refused.stderr.splitlines() == [
        "users-api: USERS_WORKERS: Input should be a valid integer, unable to parse string as "
        "an integer",
        "users-api: USERS_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
    ]


def test_a_sqlite_file_that_is_no_database_is_unavailable_not_an_error(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("a shopping list, not a database\n" * 100)
    url = make_url(f"sqlite:///{not_a_database}")

    with TestClient(app_on(url)) as client:
        users, health = client.get("/users/"), client.get("/health")
    migrated = users_api("migrate", database_url=url)

    assert (users.status_code, health.status_code) == (503, 503)
    assert health.json()["database"] == "unreachable"
    assert "cannot migrate the database at sqlite:///" in migrated.stderr
    assert "file is not a database" in migrated.stderr


def test_migrate_on_the_in_memory_store_says_there_is_nothing_to_migrate_in_one_json_line() -> None:
    migrated = users_api("migrate", database_url="memory://", USERS_LOG_JSON="true")

    [line] = [json.loads(line) for line in migrated.stderr.splitlines()]
    assert migrated.returncode == 0
    assert line.keys() == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == (
        "INFO",
        "users.startup",
        "store memory://: users live in this process; nothing to migrate",
    )


def test_serve_no_migrate_on_the_in_memory_store_says_there_is_nothing_to_migrate() -> None:
    with serving(
        "memory://", free_port(), flags=("--no-migrate",), USERS_SHUTDOWN_DRAIN_SECONDS="0"
    ) as server:
        health = httpx2.get(f"{server.url}/health")

    assert (
        "INFO users.startup - store memory://: users live in this process; nothing to migrate\n"
    ) in server.log
    assert health.status_code == 200


def test_serving_an_unmigrated_database_warns_that_health_is_503_until_migrate_runs(
    empty_database: URL,
) -> None:
    with serving(
        empty_database,
        free_port(),
        USERS_MIGRATE_ON_START="false",
        USERS_SHUTDOWN_DRAIN_SECONDS="0",
    ) as server:
        before = httpx2.get(f"{server.url}/health")
        migrated = users_api("migrate", database_url=empty_database)
        after = httpx2.get(f"{server.url}/health")

    assert (
        f"WARNING users.startup - database {empty_database.render_as_string()} at schema revision "
        "none of this service's, not migrated; this build expects "
        f"{expected_revision()}, so /health answers 503 until `users-api migrate` runs\n"
    ) in server.log
    assert (before.status_code, before.json()["database"]) == (503, "schema out of date")
    assert migrated.returncode == 0
    assert after.status_code == 200


def test_serve_no_migrate_starts_with_the_database_down_and_says_so_without_its_password() -> None:
    port = free_port()
    url = make_url(f"postgresql://users:{PASSWORD}@127.0.0.1:{port}/users")

    with serving(
        url, free_port(), flags=("--no-migrate",), USERS_SHUTDOWN_DRAIN_SECONDS="0"
    ) as server:
        health = httpx2.get(f"{server.url}/health")

    assert (
        f"WARNING users.startup - database postgresql+psycopg2://users:***@127.0.0.1:{port}/users "
        f'does not answer: connection to server at "127.0.0.1", port {port} failed: Connection '
        "refused"
    ) in server.log
    assert PASSWORD not in server.log
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")


def test_serve_no_migrate_on_a_database_at_the_expected_revision_says_so_and_is_ready(
    database_url: URL,
) -> None:
    with serving(
        database_url, free_port(), flags=("--no-migrate",), USERS_SHUTDOWN_DRAIN_SECONDS="0"
    ) as server:
        health = httpx2.get(f"{server.url}/health")

    assert (
        f"INFO users.startup - database {database_url.render_as_string()} at schema revision "
        f"{expected_revision()}: not migrated (up to date)\n"
    ) in server.log
    assert health.status_code == 200


def test_several_workers_share_the_metrics_directory_the_operator_names_and_leave_it_there(
    database_url: URL, tmp_path: Path
) -> None:
    with serving(
        database_url,
        free_port(),
        workers=2,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        USERS_SHUTDOWN_DRAIN_SECONDS="0",
    ) as server:
        while_serving = {path.name for path in tmp_path.iterdir()}
        exited = server.stop()

    assert len(server.worker_pids) == 2
    assert {f"gauge_livesum_{pid}.db" for pid in server.worker_pids} <= while_serving
    assert exited == 0
    assert tmp_path.is_dir()


def test_serving_a_database_migrated_by_a_newer_build_says_to_serve_that_build(
    database_url: URL, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    try:
        with serving(
            database_url, free_port(), flags=("--no-migrate",), USERS_SHUTDOWN_DRAIN_SECONDS="0"
        ) as server:
            health = httpx2.get(f"{server.url}/health")
    finally:
        with engine.begin() as connection:
            connection.execute(
                text(f"UPDATE alembic_version SET version_num = '{expected_revision()}'")
            )

    assert (
        "the database is at schema revision '0999', which this build does not know "
        f"(its last is {expected_revision()!r}) and does not follow: serve the build that "
        "migrated it"
    ) in server.log
    assert "until `users-api migrate` runs" not in server.log
    assert (health.status_code, health.json()["database"]) == (503, "schema out of date")
