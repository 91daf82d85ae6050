"""The integration layer: the SQL adapter and the whole service against a real PostgreSQL
(whose fixtures, `server_url` to `engine`, come from `tests.postgres`)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, make_url

from tests.integration import later_build
from tests.postgres import throwaway_database
from tests.support import app_on
from users.adapters.sql.engine import EngineOptions
from users.adapters.sql.schema import migrate
from users.adapters.sql.store import SqlStore
from users.domain.ports import UnitOfWorkFactory


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """A database of its own, with nothing in it, on PostgreSQL and on SQLite."""
    if request.param == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    with throwaway_database(request.getfixturevalue("server_url"), "empty") as url:
        yield url


@pytest.fixture(scope="session")
def later(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The variables that run `users-api` as the later build (`later_build`)."""
    return later_build.assemble(tmp_path_factory.mktemp("later-build"))


@pytest.fixture
def app(sql_store: SqlStore, engine: Engine) -> FastAPI:
    """The whole service on PostgreSQL, on the shared engines; the tables are emptied after."""
    return app_on(sql_store)


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
def sqlite_uow_factory(sqlite_template: Path, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    path = shutil.copy(sqlite_template, tmp_path / "users.db")
    store = SqlStore.open(make_url(f"sqlite:///{path}"), EngineOptions())
    yield store.unit_of_work
    store.close()
