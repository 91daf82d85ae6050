"""Which database a unit of work reads (`unit_of_work.py`), on PostgreSQL, with a database of
the test's own standing in for a replica and marked seen: reads go where `Replicas.choose()`
says, a replica that fails a read hands it to the primary, and each read is counted where it was
served. That a replica really is a copy, and how one is seen, is `test_replicas.py`'s business,
on a cluster of its own; these run in process, in a second."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import URL, Engine, text

from tests.postgres import break_connection, throwaway_database
from tests.support import new_user
from users.adapters.sql.engine import EngineOptions, Engines, create_engines, database_url
from users.adapters.sql.replicas import Replica, Replicas
from users.adapters.sql.schema import build_schema, migrate
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.errors import StoreUnavailable, WriteInReadOnlyUnit
from users.domain.model import Email
from users.domain.ports import ReadFigures

ONLY_ON_THE_REPLICA = "replica@example.com"
NOWHERE = database_url("postgresql://postgres@127.0.0.1:1/nowhere")


@pytest.fixture(scope="module")
def copy_url(server_url: URL) -> Iterator[URL]:
    """A second database, migrated: the stand-in replica."""
    with throwaway_database(server_url, "replica") as url:
        migrate(url)
        yield url


@pytest.fixture
def copy(copy_url: URL) -> Iterator[Engine]:
    """The stand-in replica's engine, holding one user the primary does not have."""
    engines = create_engines(copy_url, EngineOptions(), build_schema())
    with SqlAlchemyUnitOfWork(engines) as unit:
        unit.users.add(new_user(ONLY_ON_THE_REPLICA))
        unit.commit()
    yield engines.reads
    with engines.writes.begin() as connection:
        connection.execute(text("DELETE FROM users"))
    engines.dispose()


def seen(replica: Replica) -> Replica:
    """`replica` as a look that just found it current would leave it."""
    replica.seen(replayed=0, current_as_of=time.monotonic())
    return replica


def with_replica(engines: Engines, engine: Engine) -> tuple[Engines, Replica]:
    replica = seen(Replica("copy", engine, engine))
    # A bound no test comes near: a slow machine must not make the replica stale.
    replicas = Replicas([replica], engines.reads, max_lag_seconds=600.0)
    return Engines(engines.reads, engines.writes, replicas), replica


def served(routed: Engines) -> dict[str, int]:
    assert routed.replicas is not None
    figures: list[ReadFigures] = routed.replicas.figures()
    return {figure.target: figure.reads for figure in figures}


def on_replica(routed: Engines) -> bool:
    """Whether a read-only unit reads the stand-in replica: only it has that user."""
    with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
        return unit.users.get_by_email(Email.parse(ONLY_ON_THE_REPLICA)) is not None


def test_a_read_only_unit_reads_a_fit_replica_and_is_counted_there(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    routed, _ = with_replica(engines, copy)

    assert on_replica(routed)
    assert served(routed) == {"primary": 0, "copy": 1}


def test_writes_and_reads_asked_on_the_primary_never_reach_a_replica(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    routed, _ = with_replica(engines, copy)

    with SqlAlchemyUnitOfWork(routed) as unit:
        user = unit.users.add(new_user())
        unit.commit()
    with SqlAlchemyUnitOfWork(routed, read_only=True, on_primary=True) as unit:
        read = unit.users.get(user.id)

    assert read == user
    assert served(routed) == {"primary": 0, "copy": 0}


def test_a_unit_on_a_replica_refuses_writes(engines: Engines, engine: Engine, copy: Engine) -> None:
    routed, _ = with_replica(engines, copy)

    with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
        with pytest.raises(WriteInReadOnlyUnit):
            unit.users.add(new_user())
        assert unit.users.get_by_email(Email.parse(ONLY_ON_THE_REPLICA)) is not None


def test_a_replica_that_cannot_be_reached_hands_the_read_to_the_primary_and_rests(
    engines: Engines, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = create_engines(NOWHERE, EngineOptions(), build_schema())
    routed, replica = with_replica(engines, unreachable.reads)
    with SqlAlchemyUnitOfWork(engines) as unit:
        user = unit.users.add(new_user())
        unit.commit()

    with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
        read = unit.users.get(user.id)
    unreachable.dispose()

    assert read == user
    assert served(routed) == {"primary": 1, "copy": 0}
    assert replica.fallbacks.count == 1
    assert routed.replicas is not None
    assert routed.replicas.choose() is None
    assert "replica copy is not used, reads go to the primary: a read failed: " in caplog.text
    assert "127.0.0.1" in caplog.text  # the driver's own words, whatever their language


def test_a_replica_whose_connection_breaks_mid_unit_hands_the_read_over_and_rests(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    routed, _ = with_replica(engines, copy)

    with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
        break_connection(unit, through=copy)
        found = unit.users.get_by_email(Email.parse(ONLY_ON_THE_REPLICA))

    assert found is None  # the primary's answer
    assert served(routed) == {"primary": 1, "copy": 0}
    assert routed.replicas is not None
    assert routed.replicas.choose() is None


def test_a_read_a_replica_fails_is_served_by_the_primary_and_the_replica_stays_in_turn(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    """A statement refused there (a replica still behind a migration, say) is no broken
    connection: the replica keeps its turn."""
    routed, replica = with_replica(engines, copy)
    with SqlAlchemyUnitOfWork(engines) as unit:
        user = unit.users.add(new_user())
        unit.commit()
    with copy.connect() as connection:
        connection.execute(text("ALTER TABLE users RENAME TO users_renamed"))

    try:
        with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
            read = unit.users.get(user.id)
    finally:
        with copy.connect() as connection:
            connection.execute(text("ALTER TABLE users_renamed RENAME TO users"))

    assert read == user
    assert served(routed) == {"primary": 1, "copy": 0}
    assert replica.fallbacks.count == 1
    assert routed.replicas is not None
    assert routed.replicas.choose() is replica


def test_once_handed_to_the_primary_a_unit_that_fails_there_finds_the_store_unavailable(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    routed, _ = with_replica(engines, copy)
    with copy.connect() as connection:
        connection.execute(text("ALTER TABLE users RENAME TO users_renamed"))

    try:
        with SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
            unit.users.get(1)  # fails on the replica: served by the primary
            break_connection(unit, through=engine)
            with pytest.raises(StoreUnavailable):
                unit.users.get(1)
    finally:
        with copy.connect() as connection:
            connection.execute(text("ALTER TABLE users_renamed RENAME TO users"))


def test_a_unit_that_fails_is_counted_nowhere(
    engines: Engines, engine: Engine, copy: Engine
) -> None:
    routed, _ = with_replica(engines, copy)

    with pytest.raises(LookupError), SqlAlchemyUnitOfWork(routed, read_only=True) as unit:
        unit.users.get(1)
        raise LookupError

    assert served(routed) == {"primary": 0, "copy": 0}
