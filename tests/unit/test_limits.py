"""The limits a request meets on its way in: its body read whole, and a worker slot in time."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from users.adapters.memory import InMemoryStore
from users.container import Container
from users.domain.errors import UserNotFound
from users.entrypoints.app import create_app
from users.settings import Settings

A_WHOLE_USER = b'{"name": "Alice", "email": "alice@example.com"}'
CHUNKED_POST: Scope = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/users/",
    "raw_path": b"/users/",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"test"),
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("test", 80),
}


def test_a_client_that_leaves_before_its_body_ends_registers_no_one_and_is_not_answered(
    app: FastAPI, store: InMemoryStore
) -> None:
    arriving: list[Message] = [
        {"type": "http.request", "body": A_WHOLE_USER, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(dict(CHUNKED_POST), receive, send))

    assert sent == []
    assert store.users == {}


class StuckService:
    """Holds the one worker slot until the test lets go."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def get(self, *, user_id: int) -> None:
        self.holding.set()
        self.let_go.wait(timeout=10)
        raise UserNotFound(user_id)


def test_a_request_that_gets_no_worker_slot_by_its_deadline_is_a_503_at_the_deadline() -> None:
    timeout = 0.2
    service = StuckService()
    settings = Settings(database_url="memory://", concurrency=1, request_timeout_seconds=timeout)
    container = Container(
        settings=providers.Object(settings), user_service=providers.Object(service)
    )
    with TestClient(create_app(container)) as client, ThreadPoolExecutor(1) as thread:
        holder = thread.submit(client.get, "/users/1")
        assert service.holding.wait(timeout=10)

        started = time.monotonic()
        turned_away = client.get("/users/2")
        waited = time.monotonic() - started
        service.let_go.set()

    assert (turned_away.status_code, turned_away.json()) == (
        503,
        {"detail": "Database unavailable"},
    )
    assert turned_away.headers["Retry-After"] == "1"
    assert timeout <= waited < timeout + 5  # at its deadline, not when the slot came free
    assert holder.result().status_code == 404
