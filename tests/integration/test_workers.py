"""`users-api serve --workers 2` on PostgreSQL: two processes, one contract."""

import asyncio
import os
import subprocess
import threading
from collections.abc import Iterator
from typing import IO

import httpx
import httpx2
import pytest
from sqlalchemy import URL, Engine

from tests.http_contract import HttpContract
from tests.integration.commands import USERS_API
from tests.integration.test_faults import MIXED_CASES, rows_with_key
from tests.support import free_port

WORKERS = 2


def wait_for_line(stream: IO[str], text: str, times: int, timeout: float) -> None:
    """Wait until `text` has appeared `times` times in `stream`; drain it to its end after."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in stream:
            if len(lines) < 1000:  # enough to explain a failed start
                lines.append(line)
            if sum(text in seen for seen in lines) >= times:
                done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(timeout):
        pytest.fail("the server did not start:\n" + "".join(lines))


@pytest.fixture(scope="module")
def base_url(database_url: URL) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "USERS_DATABASE_URL": database_url.render_as_string(hide_password=False),
        "USERS_PORT": str(port),
    }
    server = subprocess.Popen(
        [USERS_API, "serve", "--workers", str(WORKERS)],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    with server.stderr:
        try:
            wait_for_line(server.stderr, "Application startup complete", WORKERS, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture
def client(base_url: str, committed: Engine) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=base_url, timeout=30) as client:
        yield client


class TestHttpContractOnTwoWorkers(HttpContract):
    pass


def test_of_64_simultaneous_registrations_across_workers_exactly_one_wins(
    base_url: str, committed: Engine
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
    assert rows_with_key(committed, "kim@example.com") == 1


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
