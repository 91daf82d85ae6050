"""PostgreSQL for the tests: where the server comes from, throwaway databases on it, and the
fixtures that hand them out (a plugin of every layer, so one server serves a whole run)."""

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.support import free_port
from users.adapters.sql.engine import EngineOptions, Engines, create_engines
from users.adapters.sql.engine import database_url as parsed_url
from users.adapters.sql.schema import build_schema, migrate
from users.adapters.sql.store import SqlStore
from users.adapters.sql.tables import idempotency_keys, serving_builds, users_table
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork

SERVER_VARIABLE = "USERS_TEST_DATABASE_URL"
HOW_TO_PROVIDE = f"""No PostgreSQL found. Provide one of:
  - a server: {SERVER_VARIABLE}=postgresql://user:password@host:5432/postgres
    (a database of its own is created on it and dropped after; the user needs CREATEDB);
  - initdb and pg_ctl, on the PATH or as Debian installs them (apt-get install postgresql);
  - the pgserver wheel, which bundles PostgreSQL: pip install pgserver (CPython 3.9-3.12)."""


class NoPostgres(RuntimeError):
    """No server was named and none could be started."""


@contextmanager
def postgres_server(*, own: bool = False) -> Iterator[URL]:
    """The server USERS_TEST_DATABASE_URL names, else a throwaway one started for the run;
    with `own`, a throwaway one whenever one can be started."""
    named = os.environ.get(SERVER_VARIABLE)
    if named and not own:
        yield parsed_url(named)
    elif (binaries := postgres_binaries()) is not None:
        yield from _own_cluster(binaries)
    elif _pgserver_installed():
        yield from _pgserver()
    elif named:
        yield parsed_url(named)
    else:
        raise NoPostgres(HOW_TO_PROVIDE)


def break_connection(unit: SqlAlchemyUnitOfWork, through: Engine) -> None:
    """End the server process behind `unit`'s connection, from another connection on the same
    server (`through`), as a restart or an administrator would."""
    backend = unit.connection.execute(text("SELECT pg_backend_pid()"), {}).scalar_one()
    with through.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})


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
        yield parsed_url(server.get_uri())
    finally:
        server.cleanup()


def postgres_binaries() -> Path | None:
    """Where initdb and pg_ctl are: on the PATH, or where Debian's packages put them."""
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent  # a link, often: to where its siblings are
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return installed[-1].parent if installed else None


def _own_cluster(binaries: Path) -> Iterator[URL]:
    data = Path(tempfile.mkdtemp(prefix="users-pg-"))
    run_as = unprivileged_prefix(data)
    port = free_port()
    try:
        subprocess.run(
            [
                *run_as,
                str(binaries / "initdb"),
                "-D",
                str(data / "db"),
                "-U",
                "postgres",
                "--auth=trust",
            ],
            check=True,
            capture_output=True,
        )
        # Room for the pools of the several servers some tests run at once.
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300"
        subprocess.run(
            [
                *run_as,
                str(binaries / "pg_ctl"),
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
        yield parsed_url(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*run_as, str(binaries / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def unprivileged_prefix(data: Path) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if os.geteuid() != 0:
        return []
    try:
        shutil.chown(data, "postgres")
    except LookupError:
        raise NoPostgres("as root, initdb needs a `postgres` user to run it as") from None
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def server_url() -> Iterator[URL]:
    try:
        with postgres_server() as url:
            yield url
    except NoPostgres as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def database_url(server_url: URL) -> Iterator[URL]:
    """This run's (this xdist worker's) own database, migrated to head."""
    with throwaway_database(server_url, os.environ.get("PYTEST_XDIST_WORKER", "main")) as url:
        _sessions_not_in_utc(url)
        migrate(url)
        yield url


def _sessions_not_in_utc(url: URL) -> None:
    """The database's sessions show times in a zone other than UTC, as a server set to its
    city's time would: a moment that lost its zone on the way in or out is off by hours."""
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"ALTER DATABASE \"{url.database}\" SET timezone = 'Asia/Kolkata'"))
    admin.dispose()


@pytest.fixture(scope="session")
def _session_engine(database_url: URL) -> Iterator[Engine]:
    # It pings before each use, as tests kill connections on purpose.
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_session_engine: Engine) -> Iterator[Engine]:
    """An engine on this run's database, for tests whose data really commits; the data is
    emptied after the test (the schema's own records, `schema_steps`, stay)."""
    yield _session_engine
    with _session_engine.connect() as connection:
        for table in (users_table, idempotency_keys, serving_builds):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def engines(database_url: URL) -> Iterator[Engines]:
    """The service's own engines on this run's database, shared by the tests."""
    engines = create_engines(database_url, EngineOptions(), build_schema())
    yield engines
    engines.dispose()


@pytest.fixture(scope="session")
def sql_store(database_url: URL, engines: Engines) -> SqlStore:
    """The store of the service on this run's database, on the shared engines: what an app
    under test serves with (`app_on(sql_store)`)."""
    return SqlStore(database_url, EngineOptions(), engines)
