"""The repository contract, against SQLite and PostgreSQL."""

import pytest
from sqlalchemy import Connection

from tests.repository_contract import RepositoryContract
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.ports import UnitOfWorkFactory


class TestPostgresRepository(RepositoryContract):
    @pytest.fixture
    def uow(self, connection: Connection) -> UnitOfWorkFactory:
        return lambda: SqlAlchemyUnitOfWork(connection)


class TestSqliteRepository(RepositoryContract):
    @pytest.fixture
    def uow(self, sqlite_uow: UnitOfWorkFactory) -> UnitOfWorkFactory:
        return sqlite_uow
