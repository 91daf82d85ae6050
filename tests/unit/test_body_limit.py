"""The body a request brings: read whole before the request takes a worker slot."""

import asyncio
from collections.abc import AsyncIterator

import httpx2
from fastapi import FastAPI
from starlette.types import Message, Scope

from tests.support import app_on
from users.adapters.memory import InMemoryDatabase

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
    app: FastAPI, database: InMemoryDatabase
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
    assert database.users == {}


def test_clients_sending_their_bodies_slowly_hold_no_worker_slot() -> None:
    slots = 2
    app = app_on(concurrency=slots, request_timeout_seconds=0.5)

    async def read_while_a_body_trickles_on_every_slot() -> int:
        started, never = asyncio.Semaphore(0), asyncio.Event()

        async def trickle() -> AsyncIterator[bytes]:  # the first bytes of a body, then nothing
            yield b'{"name": "Sl'
            started.release()
            await never.wait()

        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            senders = [
                asyncio.create_task(client.post("/users/", content=trickle())) for _ in range(slots)
            ]
            for _ in range(slots):
                await started.acquire()
            read = await client.get("/users/")
            for sender in senders:
                sender.cancel()
            return read.status_code

    assert asyncio.run(read_while_a_body_trickles_on_every_slot()) == 200
