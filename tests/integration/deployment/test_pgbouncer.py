"""The service through PgBouncer in transaction pooling: the same contract, the same bounds."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine

from tests.contracts.http import HttpContract
from tests.contracts.repository import RepositoryContract
from tests.integration.commands import users_api
from tests.integration.deployment.conftest import through
from tests.integration.test_faults import UNAVAILABLE, read_while_the_table_is_locked
from tests.postgres import throwaway_database
from tests.support import app_on
from users.adapters.sql.engine import EngineOptions
from users.adapters.sql.schema import expected_revision, revision_at
from users.adapters.sql.store import SqlStore
from users.domain.ports import UnitOfWorkFactory


@pytest.fixture
def app(bouncer: URL, database_url: URL, engine: Engine) -> FastAPI:
    return app_on(through(bouncer, database_url))


class TestHttpContractThroughPgBouncer(HttpContract):
    pass


class TestRepositoryContractThroughPgBouncer(RepositoryContract):
    @pytest.fixture
    def uow_factory(
        self, bouncer: URL, database_url: URL, engine: Engine
    ) -> Iterator[UnitOfWorkFactory]:
        store = SqlStore.open(through(bouncer, database_url), EngineOptions())
        yield store.unit_of_work
        store.close()


def test_the_statement_timeout_cancels_a_statement_through_the_pooler(
    bouncer: URL, database_url: URL, engine: Engine
) -> None:
    app = app_on(through(bouncer, database_url), request_timeout_seconds=0.5)
    with TestClient(app) as client:
        read = read_while_the_table_is_locked(client, engine)

    assert (read.blocked.status_code, read.blocked.json()) == (503, UNAVAILABLE)
    assert read.seconds < 1.5
    assert read.left_waiting == 0  # PostgreSQL cancelled it, not just the service gave up
    assert (read.released.status_code, read.released.json()) == (200, read.user)


def test_migrations_run_through_the_pooler(bouncer: URL, server_url: URL) -> None:
    with throwaway_database(server_url, "bouncer") as database:
        first = users_api("migrate", database_url=through(bouncer, database))
        again = users_api("migrate", database_url=through(bouncer, database))
        revision = revision_at(database)

    assert first.returncode == 0, first.stderr
    assert "already up to date" in again.stderr
    assert revision == expected_revision()
