"""What a request costs in round trips to PostgreSQL: a read one, a write's transaction two."""

from fastapi.testclient import TestClient
from sqlalchemy import URL

from tests.contracts.http import register
from tests.integration.proxy import CuttableProxy
from tests.support import app_on


def test_a_read_is_one_round_trip_and_a_registration_two(
    server_url: URL, database_url: URL
) -> None:
    proxy = CuttableProxy(server_url)
    with TestClient(app_on(proxy.url_for(database_url))) as client:
        user = register(client)  # each pool opens its connection first
        client.get(f"/users/{user['id']}")

        sent = proxy.queries
        client.get(f"/users/{user['id']}")
        read, sent = proxy.queries - sent, proxy.queries
        register(client)
        registration, sent = proxy.queries - sent, proxy.queries
        refused = client.post("/users/", json={"name": "Again", "email": user["email"]})
        refusal = proxy.queries - sent

    assert refused.status_code == 400
    # BEGIN goes with the INSERT, then COMMIT (or, when the address is taken, ROLLBACK).
    assert (read, registration, refusal) == (1, 2, 2)
