"""A store that stops answering, as only the fake can be switched off: 503s, then recovery;
and what the fake store says when asked to migrate."""

from fastapi.testclient import TestClient

from tests.support import SwitchableStore
from users.adapters.memory import InMemoryStore


def test_an_unreachable_store_is_503_with_the_contract_body(
    client: TestClient, store: SwitchableStore
) -> None:
    store.down = True

    response = client.post("/users/", json={"name": "A", "email": "a@example.com"})

    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable"}


def test_health_is_503_when_the_store_is_unreachable(
    client: TestClient, store: SwitchableStore
) -> None:
    store.down = True

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "detail": "Database unavailable",
    }


def test_the_service_recovers_when_the_store_is_back(
    client: TestClient, store: SwitchableStore
) -> None:
    store.down = True
    client.get("/users/")
    store.down = False

    assert client.get("/users/").status_code == 200


def test_the_in_memory_store_has_no_schema_to_migrate_and_says_so() -> None:
    said = "store memory://: users live in this process; nothing to migrate"

    assert InMemoryStore().migrate() == (True, said)
    assert InMemoryStore().check_schema() == (True, said)
