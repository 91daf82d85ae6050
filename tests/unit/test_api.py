"""The HTTP contract over the in-memory store, and what only a fake can switch off."""

import asyncio
import re
from collections.abc import AsyncIterator

import httpx2
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.http_contract import HttpContract, register
from tests.support import Outage, simultaneously
from users.container import Container
from users.entrypoints.app import create_app
from users.settings import Settings


class TestHttpContractInMemory(HttpContract):
    @pytest.fixture
    def app(self, shared_app: FastAPI) -> FastAPI:
        """One app for the whole contract (building one costs more than most of its tests),
        over each test's own store."""
        return shared_app


def test_an_unreachable_store_is_503_with_the_contract_body(
    client: TestClient, outage: Outage
) -> None:
    outage.on = True

    response = client.post("/users/", json={"name": "A", "email": "a@example.com"})

    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable"}


def test_health_is_503_when_the_store_is_unreachable(client: TestClient, outage: Outage) -> None:
    outage.on = True

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "detail": "Database unavailable",
    }


def test_the_service_recovers_when_the_store_is_back(client: TestClient, outage: Outage) -> None:
    outage.on = True
    client.get("/users/")
    outage.on = False

    assert client.get("/users/").status_code == 200


def test_of_simultaneous_registrations_of_one_address_exactly_one_wins(
    app: FastAPI, client: TestClient
) -> None:
    racers = 64
    cases = ["zoe@example.com", "ZOE@example.com", "Zoe@Example.COM", "zOe@EXAMPLE.com"]
    requests = [("POST", "/users/", {"name": "Zoe", "email": cases[i % 4]}) for i in range(racers)]

    statuses = simultaneously(client, requests)

    assert sorted(statuses) == [200] + [400] * (racers - 1)
    assert len(client.get("/users/", params={"email": "zoe@example.com"}).json()["items"]) == 1


def test_of_simultaneous_updates_onto_one_address_exactly_one_wins(
    app: FastAPI, client: TestClient
) -> None:
    ids = [register(client)["id"] for _ in range(16)]
    requests = [("PATCH", f"/users/{i}", {"email": "yan@EXAMPLE.com"}) for i in ids]

    statuses = simultaneously(client, requests)

    assert sorted(statuses) == [200] + [400] * 15
    assert len(client.get("/users/", params={"email": "YAN@example.com"}).json()["items"]) == 1


def test_two_apps_in_one_process_each_serve_their_own_container() -> None:
    first, second = (
        create_app(Container(settings=providers.Object(Settings(database_url="memory://"))))
        for _ in range(2)
    )

    with TestClient(first) as one, TestClient(second) as two:
        user = register(one)
        on_second = two.get(f"/users/{user['id']}")
    with TestClient(first) as one_again:
        on_first = one_again.get(f"/users/{user['id']}")

    assert on_second.status_code == 404
    assert on_first.json() == user


def test_clients_sending_their_bodies_slowly_hold_no_worker_slot() -> None:
    slots = 2
    settings = Settings(database_url="memory://", concurrency=slots, request_timeout_seconds=0.5)
    app = create_app(Container(settings=providers.Object(settings)))

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


def test_the_documentation_pages_load_every_asset_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)

        assert assets, page
        assert all(asset.startswith("/") for asset in assets), assets
        assert all(client.get(asset).status_code == 200 for asset in assets), assets
        assert client.head(page).status_code == 200
