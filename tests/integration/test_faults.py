"""Races, durability and faults: the cases that need committed data and real connections."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2
import psycopg2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.contracts.http import register
from tests.integration.proxy import CuttableProxy
from tests.postgres import throwaway_database
from tests.support import Request, app_on, random_email, simultaneously, wait_until
from users.adapters.sql.engine import EngineOptions
from users.adapters.sql.schema import migrate
from users.adapters.sql.store import SqlStore

UNAVAILABLE = {"detail": "Database unavailable"}
MIXED_CASES = ["{0}@example.com", "{0}@EXAMPLE.com", "{0}@Example.COM", "{0}@eXaMpLe.com"]


@pytest.fixture
def service(database_url: URL, engine: Engine) -> Iterator[TestClient]:
    """The service on the test database, committing for real, started once for the test."""
    with TestClient(app_on(database_url)) as client:
        yield client


def rows_with_key(engine: Engine, email_key: str) -> int:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM users WHERE email_key = :key")
        return int(connection.execute(query, {"key": email_key}).scalar_one())


def terminate_other_connections(database_url: URL) -> int:
    admin = create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    return int(killed)


def test_of_64_simultaneous_registrations_of_one_address_exactly_one_wins(
    service: TestClient, engine: Engine
) -> None:
    emails = [MIXED_CASES[i % 4].format("zoe") for i in range(64)]

    statuses = simultaneously(
        service, [("POST", "/users/", {"name": "Zoe", "email": e}) for e in emails]
    )

    assert sorted(statuses) == [200] + [400] * 63
    assert rows_with_key(engine, "zoe@example.com") == 1


def test_of_32_simultaneous_updates_onto_one_address_exactly_one_wins(
    service: TestClient, engine: Engine
) -> None:
    users = [register(service) for _ in range(32)]
    requests: list[Request] = [
        ("PATCH", f"/users/{user['id']}", {"email": MIXED_CASES[i % 4].format("yan")})
        for i, user in enumerate(users)
    ]

    statuses = simultaneously(service, requests)

    assert sorted(statuses) == [200] + [400] * 31
    assert rows_with_key(engine, "yan@example.com") == 1


def test_an_acknowledged_registration_is_visible_from_a_fresh_connection(
    service: TestClient, database_url: URL
) -> None:
    user = register(service)

    fresh = psycopg2.connect(
        database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT name, email FROM users WHERE id = %s", (user["id"],))
            assert cursor.fetchone() == (user["name"], user["email"])
    finally:
        fresh.close()


def test_connections_killed_while_idle_cost_no_request(
    service: TestClient, database_url: URL
) -> None:
    users = [register(service) for _ in range(8)]
    reads: list[Request] = [("GET", f"/users/{users[0]['id']}", {})] * 20
    simultaneously(service, reads)  # leaves the pool holding several connections
    requests: list[Request] = [
        *reads,
        *(("POST", "/users/", {"name": "New", "email": random_email()}) for _ in range(4)),
        *(("PATCH", f"/users/{user['id']}", {"name": "Renamed"}) for user in users[:4]),
        *(("DELETE", f"/users/{user['id']}", {}) for user in users[4:]),
    ]

    killed = terminate_other_connections(database_url)
    readiness = [service.get("/health").status_code for _ in range(4)]
    statuses = simultaneously(service, requests)

    assert killed >= 2
    assert readiness == [200] * 4
    assert sorted(statuses) == [200] * 28 + [204] * 4


def test_users_swapping_addresses_at_once_get_a_400_never_a_503(service: TestClient) -> None:
    first, second = register(service), register(service)
    swaps: list[Request] = [
        ("PATCH", f"/users/{first['id']}", {"email": str(second["email"])}),
        ("PATCH", f"/users/{second['id']}", {"email": str(first["email"])}),
    ] * 3

    statuses = simultaneously(service, swaps)

    assert set(statuses) == {400}


def test_a_write_that_deadlocks_over_a_taken_address_gets_a_400_never_a_503(
    service: TestClient, engine: Engine
) -> None:
    first, second = register(service), register(service)
    rename = text("UPDATE users SET name = 'Held' WHERE id = :id")

    with engine.connect() as other, ThreadPoolExecutor(max_workers=1) as thread:
        other.execution_options(isolation_level="READ COMMITTED")
        with other.begin():
            # Another client holds the user whose address the write asks for...
            other.execute(rename, {"id": second["id"]})
            taking = thread.submit(
                service.patch, f"/users/{first['id']}", json={"email": second["email"]}
            )
            until_a_statement_waits_on_a_lock(engine)
            # ...then waits for the user the write holds: PostgreSQL aborts the write, which
            # began to wait first.
            other.execute(rename, {"id": first["id"]})
        answer = taking.result()

    assert (answer.status_code, answer.json()) == (400, {"detail": "Email already registered"})
    assert service.get(f"/users/{first['id']}").json()["email"] == first["email"]


def until_a_statement_waits_on_a_lock(engine: Engine) -> None:
    wait_until(lambda: waiting_on_locks(engine) > 0, 10, "a statement waiting on a lock")


def test_a_request_that_gets_no_pooled_connection_in_time_is_a_503_to_retry(
    database_url: URL,
) -> None:
    store = SqlStore.open(database_url, EngineOptions(pool_size=1, timeout_seconds=0.2))
    try:
        with (
            TestClient(app_on(store)) as client,
            store.unit_of_work(read_only=True),  # holds the readers' only pooled connection
        ):
            read = client.get("/users/1")
    finally:
        store.close()

    assert (read.status_code, read.json()) == (503, UNAVAILABLE)
    assert read.headers["Retry-After"] == "1"


def test_a_database_that_refuses_writes_is_a_503_to_retry_and_reads_go_on(
    server_url: URL,
) -> None:
    # What a standby answers after a failover: reads, but no writes.
    with throwaway_database(server_url, "read_only") as database:
        migrate(database)
        with TestClient(app_on(database)) as client:
            registered = register(client)
        set_read_only = (
            f'ALTER DATABASE "{database.database}" SET default_transaction_read_only = on'
        )
        with create_engine(database, poolclass=NullPool).begin() as admin:
            admin.execute(text(set_read_only))

        with TestClient(app_on(database)) as client:
            write = client.post("/users/", json={"name": "Bob", "email": random_email()})
            read = client.get(f"/users/{registered['id']}")

    assert (write.status_code, write.json()) == (503, UNAVAILABLE)
    assert write.headers["Retry-After"] == "1"
    assert read.json() == registered


def test_a_burst_far_larger_than_the_pool_is_answered_in_full(
    database_url: URL, engine: Engine
) -> None:
    with TestClient(app_on(database_url, concurrency=2, request_timeout_seconds=30)) as client:
        user = register(client)
        requests: list[Request] = [
            ("GET", f"/users/{user['id']}", {})
            if i % 2
            else ("POST", "/users/", {"name": "B", "email": random_email()})
            for i in range(200)
        ]

        statuses = simultaneously(client, requests)

    assert statuses == [200] * 200


@dataclass
class LockedRead:
    """A user read while its table was locked, and read again once the lock was gone."""

    user: dict[str, object]
    blocked: httpx2.Response
    seconds: float
    left_waiting: int  # statements still waiting on the lock right after the answer
    released: httpx2.Response


def read_while_the_table_is_locked(client: httpx2.Client, engine: Engine) -> LockedRead:
    with engine.connect() as blocker:
        user = register(client)
        blocker.execution_options(isolation_level="READ COMMITTED")
        with blocker.begin():
            blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            blocked = client.get(f"/users/{user['id']}")
            seconds = time.monotonic() - started
            left_waiting = waiting_on_locks(engine)
        return LockedRead(user, blocked, seconds, left_waiting, client.get(f"/users/{user['id']}"))


def waiting_on_locks(engine: Engine) -> int:
    with engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(connection.execute(text(query)).scalar_one())


def test_a_statement_that_runs_too_long_is_cancelled(database_url: URL, engine: Engine) -> None:
    with TestClient(app_on(database_url, request_timeout_seconds=0.5)) as client:
        read = read_while_the_table_is_locked(client, engine)

    assert (read.blocked.status_code, read.blocked.json()) == (503, UNAVAILABLE)
    assert read.seconds < 1.5
    assert read.left_waiting == 0  # PostgreSQL cancelled it, not just the service gave up
    assert (read.released.status_code, read.released.json()) == (200, read.user)


def test_an_unreachable_database_is_a_prompt_503_and_the_service_heals(
    server_url: URL, database_url: URL, engine: Engine
) -> None:
    proxy = CuttableProxy(server_url)
    with TestClient(app_on(proxy.url_for(database_url))) as client:
        user = client.post("/users/", json={"name": "Outage", "email": random_email()}).json()
        proxy.cut()

        started = time.monotonic()
        during = client.get(f"/users/{user['id']}")
        elapsed = time.monotonic() - started
        health = client.get("/health")
        proxy.restore()
        after = client.get(f"/users/{user['id']}")
        healed = client.get("/health")

    assert (during.status_code, during.json()) == (503, {"detail": "Database unavailable"})
    assert elapsed < 2
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")
    assert (after.status_code, after.json()) == (200, user)
    assert healed.status_code == 200
