"""The `users-api` command as an operator meets it."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, make_url

from tests.integration.conftest import app_on
from tests.support import free_port

USERS_API = str(Path(sys.executable).parent / "users-api")
PASSWORD = "hunter2-do-not-log"


def users_api(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [USERS_API, *args],
        env={**os.environ, "USERS_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
