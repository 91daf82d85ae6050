"""Reads from streaming replicas (`replicas.py`), against a primary and replicas of the tests'
own (`tests.replication`): the delayed replica applies each commit half a second late, so a read
it serves right after a write is stale, and one that must see the write is not served there."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, create_engine
from sqlalchemy.pool import NullPool

from tests.contracts.repository import RepositoryContract
from tests.metrics import scrape
from tests.postgres import throwaway_database
from tests.replication import Cluster, Replication
from tests.support import app_on, random_email, wait_until
from users import consistency
from users.adapters.sql.engine import EngineOptions, create_engines
from users.adapters.sql.schema import build_schema, migrate
from users.adapters.sql.store import SqlStore
from users.adapters.sql.tables import idempotency_keys, serving_builds, users_table
from users.domain.ports import ReadFigures, UnitOfWork, UnitOfWorkFactory

TOKEN = "Consistency-Token"
# The delayed replica is always within it, so that reads without a token go to it.
OPTIONS = EngineOptions(replica_max_lag_seconds=5.0)


@pytest.fixture(scope="module")
def primary(replicated: Replication) -> Iterator[URL]:
    """A database of this module's own on the primary, migrated; emptied after each test."""
    with throwaway_database(replicated.primary.url, "replicas") as url:
        migrate(url)
        yield url


@pytest.fixture(autouse=True)
def _emptied(primary: URL) -> Iterator[None]:
    consistency.read_after(None)  # a test's reads must see nothing an earlier test wrote
    yield
    consistency.read_after(None)  # nor a later test's what this one wrote
    engine = create_engine(primary, poolclass=NullPool)
    with engine.begin() as connection:
        for table in (users_table, idempotency_keys, serving_builds):
            connection.execute(table.delete())
    engine.dispose()


def on(replica: Cluster, primary: URL) -> URL:
    """The primary's database, on `replica`."""
    return replica.url.set(database=primary.database)


def reads(store: SqlStore) -> dict[str, ReadFigures]:
    return {figures.target: figures for figures in store.reads()}


def replica_reads(store: SqlStore) -> int:
    return sum(f.reads for f in store.reads() if f.target != "primary")


def replica_name(store: SqlStore) -> str:
    """The one replica's name, as metrics label it."""
    return next(f.target for f in store.reads() if f.target != "primary")


def replicas_in_use(store: SqlStore) -> None:
    wait_until(
        lambda: all(f.usable for f in store.reads() if f.target != "primary"), 30, "replicas used"
    )


@contextmanager
def service(primary: URL, *replicas: URL) -> Iterator[tuple[TestClient, SqlStore]]:
    """The service on `primary`, reading from `replicas`, once it uses them; and its store."""
    store = SqlStore.open(primary, OPTIONS, replica_urls=replicas)
    try:
        with TestClient(app_on(store)) as client:
            replicas_in_use(store)
            yield client, store
    finally:
        store.close()


def test_without_a_token_a_read_right_after_a_write_can_be_served_stale_by_the_replica(
    replicated: Replication, primary: URL
) -> None:
    with service(primary, on(replicated.delayed, primary)) as (client, store):
        for _ in range(5):  # a look that comes late on a busy machine sends one to the primary
            replicas_in_use(store)
            created = client.post("/users/", json={"name": "Ann", "email": random_email()})
            user = f"/users/{created.json()['id']}"
            if (stale := client.get(user)).status_code == 404:
                break
        primary_reads = reads(store)["primary"].reads

        fresh = client.get(user, headers={TOKEN: created.headers[TOKEN]})

    assert stale.status_code == 404
    assert fresh.status_code == 200
    assert fresh.json() == created.json()
    assert reads(store)["primary"].reads == primary_reads + 1


def test_every_write_answers_with_a_token_later_than_the_last(
    replicated: Replication, primary: URL
) -> None:
    with service(primary, on(replicated.delayed, primary)) as (client, _):
        created = client.post("/users/", json={"name": "Ann", "email": random_email()})
        path = f"/users/{created.json()['id']}"

        writes = [
            created,
            client.post("/users/", json={"name": "Bob", "email": random_email()}),
            client.patch(path, json={"name": "Bea"}),
            client.delete(path),
        ]

    tokens = [write.headers[TOKEN] for write in writes]
    assert [write.status_code for write in writes] == [200, 200, 200, 204]
    assert tokens == sorted(tokens)  # fixed-width hex: in the order of the positions
    assert len(set(tokens)) == len(tokens)


def test_a_token_past_anything_written_yet_is_served_by_the_primary(
    replicated: Replication, primary: URL
) -> None:
    with service(primary, on(replicated.prompt, primary)) as (client, store):
        created = client.post("/users/", json={"name": "Ann", "email": random_email()})

        read = client.get(f"/users/{created.json()['id']}", headers={TOKEN: "7" + "f" * 15})

    assert read.json() == created.json()
    assert (reads(store)["primary"].reads, replica_reads(store)) == (1, 0)


def test_with_its_token_a_read_is_never_stale_on_the_instance_that_wrote_or_another(
    replicated: Replication, primary: URL
) -> None:
    both = (on(replicated.delayed, primary), on(replicated.prompt, primary))
    with service(primary, *both) as (one, _), service(primary, *both) as (other, other_store):
        stale: list[str] = []
        for number in range(20):
            writer, reader = (one, other) if number % 2 else (other, one)
            created = writer.post("/users/", json={"name": "Ann", "email": random_email()})
            user = f"/users/{created.json()['id']}"
            renamed = reader.patch(user, json={"name": f"Ann {number}"})
            for client in (one, other):
                read = client.get(user, headers={TOKEN: renamed.headers[TOKEN]})
                if read.json() != renamed.json():
                    stale.append(f"{number}: {read.status_code} {read.text}")
                found = client.get(
                    "/users/",
                    params={"email": created.json()["email"]},
                    headers={TOKEN: renamed.headers[TOKEN]},
                )
                if found.json()["items"] != [renamed.json()]:
                    stale.append(f"{number} by email: {found.text}")
        # Once a replica has replayed the last write, reads with its token go there.
        served_before = replica_reads(other_store)
        wait_until(
            lambda: (
                other.get(user, headers={TOKEN: renamed.headers[TOKEN]}).json() == renamed.json()
                and replica_reads(other_store) > served_before
            ),
            10,
            "a read with the token served by a replica",
        )

    assert stale == []


def test_a_replica_stopped_mid_load_fails_no_read_and_is_read_again_once_back(
    replicated: Replication, primary: URL
) -> None:
    with service(primary, on(replicated.prompt, primary)) as (client, store):
        users = [
            client.post("/users/", json={"name": "Ann", "email": random_email()}).json()
            for _ in range(5)
        ]
        wait_until(lambda: client.get(f"/users/{users[-1]['id']}").status_code == 200, 10, "")
        replica = replica_name(store)
        statuses: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                for user in users:
                    statuses.append(client.get(f"/users/{user['id']}").status_code)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for reader in readers:
            reader.start()
        try:
            wait_until(lambda: replica_reads(store) > 50, 10, "reads on the replica")
            replicated.prompt.stop()
            wait_until(lambda: not reads(store)[replica].usable, 10, "the replica unused")
            primary_reads = reads(store)["primary"].reads
            wait_until(lambda: reads(store)["primary"].reads > primary_reads + 50, 10, "")
            while_stopped = scrape(client)
            ready_while_stopped = client.get("/health").status_code
            replicated.prompt.start()
            replica_reads_before = replica_reads(store)
            wait_until(lambda: replica_reads(store) > replica_reads_before + 50, 30, "back")
            once_back = scrape(client)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
            replicated.prompt.start_if_stopped()

    assert set(statuses) == {200}
    assert len(statuses) > 150
    assert ready_while_stopped == 200  # readiness is the primary's
    named = frozenset({("replica", replica)})
    assert while_stopped["db_replica_usable", named] == 0
    assert while_stopped["db_replica_lag_seconds", named] > 0
    assert once_back["db_replica_usable", named] == 1
    assert once_back["db_reads_total", frozenset({("target", replica)})] > 100
    assert once_back["db_reads_total", frozenset({("target", "primary")})] > 50


def test_a_hung_replica_gets_no_read_a_second_after_it_stopped_answering(
    replicated: Replication, primary: URL
) -> None:
    with service(primary, on(replicated.prompt, primary)) as (client, store):
        created = client.post("/users/", json={"name": "Ann", "email": random_email()})
        user = f"/users/{created.json()['id']}"
        wait_until(lambda: client.get(user).status_code == 200 and replica_reads(store) > 0, 10, "")
        replica = replica_name(store)

        with replicated.prompt.hung():
            wait_until(lambda: not reads(store)[replica].usable, 3, "the hung replica unused")
            started = time.monotonic()
            answers = [client.get(user).status_code for _ in range(20)]
            took = time.monotonic() - started
        wait_until(lambda: reads(store)[replica].usable, 10, "the replica used again")

    assert answers == [200] * 20
    assert took < 2  # no read waited for the hung replica


def test_a_replica_promoted_away_is_read_no_more_long_before_the_lag_bound(
    replicated: Replication, primary: URL
) -> None:
    with (
        replicated.primary.new_replica("promoted") as promoted,
        service(primary, on(promoted, primary)) as (client, store),
    ):
        replica = replica_name(store)

        promoted.promote()
        wait_until(lambda: not reads(store)[replica].usable, 2, "the promoted replica unused")
        created = client.post("/users/", json={"name": "Ann", "email": random_email()})
        read = client.get(f"/users/{created.json()['id']}")  # without a token: any copy

    assert read.status_code == 200  # the primary's: the promoted copy will never have it


class TestRepositoryContractWithReadsOnAReplica(RepositoryContract):
    """Every read-only unit is served by the replica, once it has what the test wrote."""

    @pytest.fixture
    def uow_factory(self, replicated: Replication, primary: URL) -> Iterator[UnitOfWorkFactory]:
        engines = create_engines(primary, OPTIONS, build_schema(), [on(replicated.prompt, primary)])
        store, replicas = SqlStore(primary, OPTIONS, engines), engines.replicas
        assert replicas is not None

        def uow_factory(*, read_only: bool = False) -> UnitOfWork:
            if read_only:
                wait_until(lambda: replicas.choose() is not None, 10, "the replica caught up")
            return store.unit_of_work(read_only=read_only)

        with store.serving():
            replicas_in_use(store)
            yield uow_factory
            assert reads(store)["primary"].reads == 0
        store.close()
