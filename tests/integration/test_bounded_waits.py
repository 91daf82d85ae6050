"""No request waits longer than the request timeout, however many pile up on a stalled table."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, text

from tests.contracts.http import register
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
