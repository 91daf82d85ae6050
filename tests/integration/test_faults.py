"""Races, durability and outages: the cases that need committed data and real connections."""

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.integration.conftest import app_on
from tests.integration.proxy import CuttableProxy
from tests.support import random_email


async def simultaneously(
    app: FastAPI, requests: list[tuple[str, str, dict[str, str]]]
) -> list[int]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        responses = await asyncio.gather(
            *(c.request(method, url, json=body) for method, url, body in requests)
        )
    return [response.status_code for response in responses]


@pytest.fixture
def app(database_url: URL, committed: Engine) -> Iterator[FastAPI]:
    app = app_on(database_url)
    with TestClient(app):
        yield app


def count_rows(committed: Engine, email_key: str) -> int:
    with committed.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM users WHERE email_key = :key"), {"key": email_key}
            ).scalar_one()
        )


def test_of_64_simultaneous_registrations_of_one_address_exactly_one_wins(
    app: FastAPI, committed: Engine
) -> None:
    cases = ["zoe@example.com", "ZOE@example.com", "Zoe@Example.COM", "zOe@EXAMPLE.com"]
    requests = [("POST", "/users/", {"name": "Zoe", "email": cases[i % 4]}) for i in range(64)]

    statuses = asyncio.run(simultaneously(app, requests))

    assert sorted(statuses) == [200] + [400] * 63
    assert count_rows(committed, "zoe@example.com") == 1


def test_of_simultaneous_updates_onto_one_address_exactly_one_wins(
    app: FastAPI, committed: Engine
) -> None:
    with TestClient(app) as client:
        ids = [
            client.post("/users/", json={"name": "Y", "email": random_email()}).json()["id"]
            for _ in range(32)
        ]
    cases = ["yan@example.com", "YAN@example.com", "Yan@Example.COM", "yAn@EXAMPLE.com"]
    requests = [("PATCH", f"/users/{id_}", {"email": cases[id_ % 4]}) for id_ in ids]

    statuses = asyncio.run(simultaneously(app, requests))

    assert sorted(statuses) == [200] + [400] * 31
    assert count_rows(committed, "yan@example.com") == 1


def test_an_acknowledged_registration_is_visible_from_a_fresh_connection(
    app: FastAPI, database_url: URL
) -> None:
    with TestClient(app) as client:
        user = client.post("/users/", json={"name": "Durable", "email": random_email()}).json()

    fresh = psycopg2.connect(
        database_url.render_as_string(hide_password=False).replace("+psycopg2", "")
    )
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT name, email FROM users WHERE id = %s", (user["id"],))
            assert cursor.fetchone() == ("Durable", user["email"])
    finally:
        fresh.close()


def test_connections_killed_while_idle_cost_no_request(app: FastAPI, database_url: URL) -> None:
    with TestClient(app) as client:
        user = client.post("/users/", json={"name": "Idle", "email": random_email()}).json()
        terminate_other_connections(database_url)

        responses = [client.get(f"/users/{user['id']}") for _ in range(10)]

    assert [response.status_code for response in responses] == [200] * 10


def terminate_other_connections(database_url: URL) -> None:
    admin = create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert killed >= 1


def test_an_unreachable_database_is_a_prompt_503_and_the_service_heals(
    server_url: URL, database_url: URL, committed: Engine
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
    assert health.status_code == 503
    assert health.json()["database"] == "unreachable"
    assert (after.status_code, after.json()) == (200, user)
    assert healed.status_code == 200
