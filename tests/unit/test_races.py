"""Simultaneous requests over the fake: of those racing for one address, exactly one wins."""

from fastapi.testclient import TestClient

from tests.contracts.http import register
from tests.support import simultaneously


def test_of_simultaneous_registrations_of_one_address_exactly_one_wins(
    client: TestClient,
) -> None:
    racers = 64
    cases = ["zoe@example.com", "ZOE@example.com", "Zoe@Example.COM", "zOe@EXAMPLE.com"]
    requests = [("POST", "/users/", {"name": "Zoe", "email": cases[i % 4]}) for i in range(racers)]

    statuses = simultaneously(client, requests)

    assert sorted(statuses) == [200] + [400] * (racers - 1)
    assert len(client.get("/users/", params={"email": "zoe@example.com"}).json()["items"]) == 1


def test_of_simultaneous_updates_onto_one_address_exactly_one_wins(client: TestClient) -> None:
    ids = [register(client)["id"] for _ in range(16)]
    requests = [("PATCH", f"/users/{i}", {"email": "yan@EXAMPLE.com"}) for i in ids]

    statuses = simultaneously(client, requests)

    assert sorted(statuses) == [200] + [400] * 15
    assert len(client.get("/users/", params={"email": "YAN@example.com"}).json()["items"]) == 1
