"""Where the integration tests' PostgreSQL comes from, and their throwaway databases on it."""

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, text
from sqlalchemy.pool import NullPool

from users.adapters.sql.engine import database_url

SERVER_VARIABLE = "USERS_TEST_DATABASE_URL"
HOW_TO_PROVIDE = f"""No PostgreSQL for the integration tests. Give them one of:
  - a server: {SERVER_VARIABLE}=postgresql://user:password@host:5432/postgres
    (the tests create their own database on it and drop it; the user needs CREATEDB);
  - the pgserver wheel, which bundles PostgreSQL: pip install pgserver (CPython 3.9-3.12);
  - initdb and pg_ctl on the PATH (Debian: apt-get install postgresql)."""


@contextmanager
def postgres_server() -> Iterator[URL]:
    """The URL of a server to create databases on, started for the run when none is named."""
    if named := os.environ.get(SERVER_VARIABLE):
        yield database_url(named)
    elif _pgserver_installed():
        yield from _pgserver()
    elif shutil.which("initdb") and shutil.which("pg_ctl"):
        yield from _own_cluster()
    else:
        pytest.fail(HOW_TO_PROVIDE, pytrace=False)


@contextmanager
def throwaway_database(server: URL, label: str) -> Iterator[URL]:
    """A new, uniquely named database on `server`, dropped (connections and all) afterwards."""
    name = f"users_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pgserver_installed() -> bool:
    try:
        import pgserver  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def _pgserver() -> Iterator[URL]:
    import pgserver  # noqa: PLC0415

    # pgserver runs the server as an unprivileged user of its own when we are root.
    data = tempfile.mkdtemp(prefix="users-pg-")
    server = pgserver.get_server(data, cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        yield database_url(server.get_uri())
    finally:
        server.cleanup()


def _own_cluster() -> Iterator[URL]:
    data = Path(tempfile.mkdtemp(prefix="users-pg-"))
    run_as = _unprivileged_prefix(data)
    port = _free_port()
    try:
        subprocess.run(
            [*run_as, "initdb", "-D", str(data / "db"), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [
                *run_as,
                "pg_ctl",
                "-D",
                str(data / "db"),
                "-o",
                options,
                "-l",
                str(data / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield database_url(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*run_as, "pg_ctl", "-D", str(data / "db"), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def _unprivileged_prefix(data: Path) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if os.geteuid() != 0:
        return []
    try:
        shutil.chown(data, "postgres")
    except LookupError:
        pytest.fail("as root, initdb needs a `postgres` user to run as; " + HOW_TO_PROVIDE)
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
