"""The opt-in bearer token."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.contracts.http import register
from tests.support import app_on

TOKEN = "s3cret-token"


@pytest.fixture
def protected() -> Iterator[TestClient]:
    with TestClient(app_on(api_token=TOKEN)) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_without_the_token_every_users_route_is_401(
    protected: TestClient, headers: dict[str, str]
) -> None:
    responses = [
        protected.post("/users/", json={"name": "A", "email": "a@example.com"}, headers=headers),
        protected.get("/users/", headers=headers),
        protected.get("/users/1", headers=headers),
        protected.patch("/users/1", json={"name": "B"}, headers=headers),
        protected.delete("/users/1", headers=headers),
    ]

    assert {response.status_code for response in responses} == {401}
    assert {response.headers["www-authenticate"] for response in responses} == {"Bearer"}
    assert responses[0].json() == {"detail": "Not authenticated"}


def test_with_the_token_the_contract_holds(protected: TestClient) -> None:
    protected.headers["Authorization"] = f"Bearer {TOKEN}"

    user = register(protected)

    assert protected.get(f"/users/{user['id']}").json() == user


def test_health_stays_open(protected: TestClient) -> None:
    assert protected.get("/health").status_code == 200


def test_the_openapi_document_declares_the_token_only_when_it_is_set(
    protected: TestClient, client: TestClient
) -> None:
    with_token, without = protected.get("/openapi.json").json(), client.get("/openapi.json").json()

    assert "401" in with_token["paths"]["/users/"]["post"]["responses"]
    assert with_token["paths"]["/users/"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in with_token["paths"]["/health"]["get"]
    assert "components" in without
    assert "securitySchemes" not in without["components"]
    assert "401" not in without["paths"]["/users/"]["post"]["responses"]
