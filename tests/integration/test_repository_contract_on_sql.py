"""The repository contract (`tests/contracts/repository.py`), on PostgreSQL and SQLite, and
what only a SQL store must keep to."""

import contextlib
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import Engine, event

from tests.contracts.repository import RepositoryContract
from tests.postgres import break_connection
from tests.support import new_user, random_email, user_service
from users.adapters.sql.engine import Engines
from users.adapters.sql.store import SqlStore
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.errors import DomainError, StoreUnavailable
from users.domain.model import Email, Precondition
from users.domain.ports import UnitOfWorkFactory


class TestRepositoryContractOnPostgresql(RepositoryContract):
    @pytest.fixture
    def uow_factory(self, sql_store: SqlStore, engine: Engine) -> UnitOfWorkFactory:
        return sql_store.unit_of_work


class TestRepositoryContractOnSqlite(RepositoryContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
        return sqlite_uow_factory


def test_every_write_is_one_statement_so_deadlocks_can_only_be_over_addresses(
    engines: Engines, engine: Engine
) -> None:
    """Each write changes users in one statement, and besides touches only the record of its
    own idempotency key (a purge skips locked records): two units can only wait on each other
    in a cycle through email keys, which is why the adapter answers a deadlock with "Email
    already registered"."""
    service = user_service(partial(SqlAlchemyUnitOfWork, engines))
    taken = service.register(name="Taken", email=Email.parse(random_email()))
    user = service.register(name="Alice", email=Email.parse(random_email()))
    stale = Precondition(only=frozenset({99}))
    writes: list[Callable[[], object]] = [
        lambda: service.register(name="Bob", email=Email.parse(random_email())),
        lambda: service.register(name="Bob", email=taken.email),
        lambda: service.register(name="Bob", email=Email.parse(random_email()), key="a"),
        lambda: service.register(name="Bob", email=taken.email, key="b"),
        lambda: service.update(user_id=user.id, name="Alicia", email=Email.parse(random_email())),
        lambda: service.update(user_id=user.id, email=taken.email),
        lambda: service.update(user_id=user.id, name="Al", key="c"),
        lambda: service.update(user_id=user.id, name="Al", precondition=stale),
        lambda: service.delete(user_id=user.id, precondition=stale),
        lambda: service.delete(user_id=user.id),
        lambda: service.delete(user_id=user.id),
    ]
    statements: list[str] = []

    def record(*execution: object) -> None:
        statements.append(str(execution[2]))

    event.listen(engines.writes, "before_cursor_execute", record)
    try:
        writes_to_users = []
        for write in writes:
            statements.clear()
            with contextlib.suppress(DomainError):
                write()
            assert all("users" in s or "idempotency_keys" in s for s in statements)
            writes_to_users.append(
                sum(
                    s.startswith(("INSERT INTO users", "UPDATE users", "DELETE FROM users"))
                    for s in statements
                )
            )
    finally:
        event.remove(engines.writes, "before_cursor_execute", record)

    assert writes_to_users == [1] * len(writes)


def test_a_unit_whose_connection_breaks_after_a_write_fails_whole(
    engines: Engines, engine: Engine
) -> None:
    """Only a statement on a connection that ran nothing yet is run again on a fresh one: after
    a write, that would commit the rest of the unit without it."""
    first, second = new_user(random_email()), new_user(random_email())

    with pytest.raises(StoreUnavailable), SqlAlchemyUnitOfWork(engines) as unit:
        unit.users.add(first)
        break_connection(unit, through=engine)
        unit.users.add(second)
        unit.commit()

    with SqlAlchemyUnitOfWork(engines, read_only=True) as unit:
        assert unit.users.get_by_email(first.email) is None
        assert unit.users.get_by_email(second.email) is None
