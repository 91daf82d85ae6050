"""No request waits longer than the request timeout, however many pile up on a stalled table;
no command waits without bound on a database that does not answer."""

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.contracts.http import register
from tests.integration.commands import users_api
from tests.metrics import Samples, scrape
from tests.support import app_on

IN_USE = ("db_pool_connections_in_use", frozenset[tuple[str, str]]())
WAITING = ("db_pool_requests_waiting", frozenset[tuple[str, str]]())
BOUND_SECONDS = 2.0
# What answering takes beyond the bound itself, on a busy two-core machine.
SLACK_SECONDS = 1.0


def timed_get(client: httpx2.Client, path: str) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_100_requests_on_a_locked_table_all_get_a_prompt_503_and_then_service_resumes(
    database_url: URL, engine: Engine
) -> None:
    app = app_on(database_url, request_timeout_seconds=BOUND_SECONDS, concurrency=20)
    with TestClient(app) as client, engine.connect() as blocker:
        user = register(client)
        blocker.execution_options(isolation_level="READ COMMITTED")
        with blocker.begin(), ThreadPoolExecutor(max_workers=100) as threads:
            blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            pending = [
                threads.submit(timed_get, client, f"/users/{user['id']}") for _ in range(100)
            ]
            stalled = wait_for_metrics(client, lambda samples: samples[WAITING] == 80)
            answers = [answer.result() for answer in pending]
        after_the_lock, _ = timed_get(client, f"/users/{user['id']}")

    assert {(r.status_code, r.text) for r, _ in answers} == {
        (503, '{"detail":"Database unavailable"}')
    }
    assert {r.headers["Retry-After"] for r, _ in answers} == {"1"}
    assert max(seconds for _, seconds in answers) < BOUND_SECONDS + SLACK_SECONDS
    assert (after_the_lock.status_code, after_the_lock.json()) == (200, user)
    assert stalled[IN_USE] == 20


def wait_for_metrics(client: httpx2.Client, condition: Callable[[Samples], bool]) -> Samples:
    """The first scrape (at most a second from now) whose samples meet `condition`."""
    deadline = time.monotonic() + 1
    while not condition(samples := scrape(client)):
        assert time.monotonic() < deadline, samples
    return samples


@contextmanager
def stalled_server() -> Iterator[str]:
    """A database address that accepts TCP connections and never answers: a stalled server,
    or a half-open firewall."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"postgresql+psycopg2://users@127.0.0.1:{listener.getsockname()[1]}/users"


@pytest.mark.parametrize("command", [("migrate",), ("serve", "--port", "0")])
def test_migrate_and_serve_give_up_on_a_server_that_never_answers_after_the_connect_timeout(
    command: tuple[str, ...],
) -> None:
    with stalled_server() as url:
        started = time.monotonic()
        refused = users_api(*command, database_url=url, USERS_CONNECT_TIMEOUT_SECONDS="2")
        elapsed = time.monotonic() - started

    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].endswith("failed: timeout expired")
    # Bounded, not waiting until killed: the timeout, and the command's own start (slow under
    # coverage on a busy machine).
    assert elapsed < 2 + 5


def test_a_migration_waits_for_another_ones_lock_for_a_bounded_time(database_url: URL) -> None:
    with create_engine(database_url, poolclass=NullPool).connect() as other_migration:
        other_migration.execute(text("SELECT pg_advisory_xact_lock(7203441)"))
        started = time.monotonic()
        refused = users_api("migrate", database_url=database_url, USERS_MIGRATION_WAIT_SECONDS="2")
        elapsed = time.monotonic() - started

    assert refused.returncode == 1
    assert 2 <= elapsed < 2 + 5  # the wait, and the command's own start
    assert refused.stderr.count("\n") == 1
    assert "another service's migration has held the migration lock for 2 s" in refused.stderr


def test_a_request_that_opens_a_connection_waits_for_it_no_longer_than_its_deadline() -> None:
    with stalled_server() as url:
        app = app_on(url, request_timeout_seconds=3, connect_timeout_seconds=60)
        with TestClient(app) as client:
            answer, seconds = timed_get(client, "/users/1")

    assert (answer.status_code, answer.json()) == (503, {"detail": "Database unavailable"})
    assert seconds < 3 + SLACK_SECONDS
