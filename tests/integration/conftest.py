"""The integration layer: the SQL adapter and the whole service against a real PostgreSQL."""

import os
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, create_engine, make_url

from tests.integration.postgres import NoPostgres, postgres_server, throwaway_database
from users.adapters.sql.engine import EngineOptions, Engines, create_engines
from users.adapters.sql.schema import expected_revision, migrate
from users.adapters.sql.tables import metadata
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.container import Container
from users.domain.ports import UnitOfWorkFactory
from users.entrypoints.app import create_app
from users.settings import Settings


@pytest.fixture(scope="session")
def server_url() -> Iterator[URL]:
    try:
        with postgres_server("USERS_TEST_DATABASE_URL") as url:
            yield url
    except NoPostgres as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def database_url(server_url: URL) -> Iterator[URL]:
    """This run's (this xdist worker's) own database, migrated to head."""
    with throwaway_database(server_url, os.environ.get("PYTEST_XDIST_WORKER", "main")) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    """The fixtures' own engine; it pings before each use, as tests kill connections on purpose."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def engines(database_url: URL) -> Iterator[Engines]:
    """The service's own engines on the test database, shared by the tests."""
    engines = create_engines(database_url, EngineOptions(), expected_revision())
    yield engines
    engines.dispose()


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The engine, for tests whose data is really committed; the tables are emptied after."""
    yield engine
    with engine.connect() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """A database of its own, with nothing in it, on PostgreSQL and on SQLite."""
    if request.param == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    with throwaway_database(request.getfixturevalue("server_url"), "empty") as url:
        yield url


def app_on(
    database: URL,
    overrides: dict[str, providers.Provider[object]] | None = None,
    **settings: object,
) -> FastAPI:
    """The service on `database`, with `settings` and provider `overrides` in place of defaults."""
    url = database.render_as_string(hide_password=False)
    configured = Settings(database_url=url, **settings)  # type: ignore[arg-type]
    return create_app(Container(settings=providers.Object(configured), **(overrides or {})))


@pytest.fixture
def app(database_url: URL, engines: Engines, committed: Engine) -> FastAPI:
    """The whole service on PostgreSQL, on the shared engines; the tables are emptied after."""
    return app_on(database_url, {"engines": providers.Object(engines)})


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate(make_url(f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_uow(sqlite_template: Path, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    path = shutil.copy(sqlite_template, tmp_path / "users.db")
    url = make_url(f"sqlite:///{path}")
    engines = create_engines(url, EngineOptions(), expected_revision())
    yield partial(SqlAlchemyUnitOfWork, engines)
    engines.dispose()
