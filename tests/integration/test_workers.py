"""`users-api serve --workers 2` on PostgreSQL: two processes, one contract."""

import asyncio
import os
import subprocess
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine

from tests.contracts.http import HttpContract, register
from tests.integration.commands import USERS_API, serving
from tests.integration.test_faults import MIXED_CASES, rows_with_key
from tests.metrics import requests_counted, scrape
from tests.support import app_on, free_port

WORKERS = 2


@pytest.fixture(scope="module")
def base_url(database_url: URL) -> Iterator[str]:
    with serving(database_url, free_port(), workers=WORKERS) as server:
        yield server.url


@pytest.fixture
def client(base_url: str, engine: Engine) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=base_url, timeout=30) as client:
        yield client


class TestHttpContractOnTwoWorkers(HttpContract):
    pass


def test_of_64_simultaneous_registrations_across_workers_exactly_one_wins(
    base_url: str, engine: Engine
) -> None:
    async def register_all() -> list[int]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/users/", json={"name": "Kim", "email": MIXED_CASES[i % 4].format("kim")}
                    )
                    for i in range(64)
                )
            )
        return [response.status_code for response in responses]

    statuses = asyncio.run(register_all())

    assert sorted(statuses) == [200] + [400] * 63
    assert rows_with_key(engine, "kim@example.com") == 1


def test_the_in_memory_store_refuses_several_workers() -> None:
    refused = subprocess.run(
        [USERS_API, "serve", "--workers", "2"],
        env={**os.environ, "USERS_DATABASE_URL": "memory://"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert refused.returncode != 0
    assert "in-memory store lives in one process" in refused.stderr


def test_metrics_add_up_the_requests_of_every_worker(base_url: str, engine: Engine) -> None:
    with httpx2.Client(base_url=base_url) as client:
        user = register(client)
        before = requests_counted(scrape(client), "GET", "/users/{user_id}", 200)
        for _ in range(40):  # each on a connection of its own, taken by either worker
            with httpx2.Client(base_url=base_url) as connection:
                assert connection.get(f"/users/{user['id']}").status_code == 200
        after = requests_counted(scrape(client), "GET", "/users/{user_id}", 200)

    assert after - before == 40


def test_metrics_can_be_turned_off_on_a_sql_store(database_url: URL) -> None:
    with TestClient(app_on(database_url, metrics=False)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/health").status_code == 200
