"""The HTTP contract of `docs/api.md`, run against the in-memory store and PostgreSQL alike.

A test class inherits `HttpContract` and provides a `client` fixture: a `TestClient` of an app
whose store is empty.
"""

import re

import httpx2
import pytest

from tests.support import random_email

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MAX_ID = 2**63 - 1


def register(
    client: httpx2.Client, email: str | None = None, name: str = "Alice"
) -> dict[str, object]:
    response = client.post("/users/", json={"name": name, "email": email or random_email()})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


class HttpContract:
    # Row 1: POST /users/
    def test_registering_answers_200_with_the_user(self, client: httpx2.Client) -> None:
        response = client.post("/users/", json={"name": " Alice ", "email": "Alice@EXAMPLE.com"})

        assert response.status_code == 200
        user = response.json()
        assert list(user) == ["id", "name", "email", "created_at", "updated_at"]
        assert user["id"] >= 1
        assert (user["name"], user["email"]) == ("Alice", "Alice@example.com")
        assert TIMESTAMP.match(user["created_at"])
        assert user["updated_at"] == user["created_at"]

    def test_registering_a_taken_address_in_any_case_is_the_original_400(
        self, client: httpx2.Client
    ) -> None:
        register(client, "bob@example.com")

        response = client.post("/users/", json={"name": "Bob", "email": "BOB@Example.com"})

        assert response.status_code == 400
        assert response.content == b'{"detail":"Email already registered"}'

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": "Alice"},
            {"email": "a@example.com"},
            {"name": 1, "email": "a@example.com"},
            {"name": "Alice", "email": ["a@example.com"]},
            {"name": "Alice", "email": "not-an-address"},
            {"name": "", "email": "a@example.com"},
            {"name": "   ", "email": "a@example.com"},
            {"name": "x" * 101, "email": "a@example.com"},
            {"name": "a\x00b", "email": "a@example.com"},
            {"name": "a\u0007b", "email": "a@example.com"},
            {"name": None, "email": "a@example.com"},
            {"name": "Alice", "email": "a@" + "b" * 250 + ".com"},
            {"name": "Alice", "email": "a" * 65 + "@example.com"},
            [],
            "text",
        ],
    )
    def test_registering_an_invalid_body_is_422_and_stores_nothing(
        self, client: httpx2.Client, body: object
    ) -> None:
        response = client.post("/users/", json=body)

        assert response.status_code == 422
        assert isinstance(response.json()["detail"], list)
        assert client.get("/users/").json()["items"] == []

    @pytest.mark.parametrize(
        "raw",
        [
            b"{",
            b'{"name": "A", "email": "a@example.com"',
            b"\xff\xfe",
            b'{"name": "\\ud800", "email": "a@example.com"}',
            b'{"name": "A", "email": "a@example.com", "n": 1' + b"0" * 5000 + b"}",
            b"[" * 30000 + b"]" * 30000,
            '{"name": "\u00e9", "email": "a@example.com"}'.encode("latin-1"),
        ],
    )
    def test_a_body_json_cannot_turn_into_data_is_422_never_400_or_500(
        self, client: httpx2.Client, raw: bytes
    ) -> None:
        response = client.post("/users/", content=raw, headers={"content-type": "application/json"})

        assert response.status_code == 422

    # Row 2: GET /users/{user_id}
    def test_reading_a_user_answers_what_registering_answered(self, client: httpx2.Client) -> None:
        user = register(client)

        response = client.get(f"/users/{user['id']}")

        assert response.status_code == 200
        assert response.json() == user

    def test_reading_a_missing_user_is_the_original_404(self, client: httpx2.Client) -> None:
        response = client.get("/users/424242")

        assert response.status_code == 404
        assert response.content == b'{"detail":"User not found"}'

    @pytest.mark.parametrize(
        "user_id",
        ["abc", "0", "-1", "1.5", "1.0", "+1", "%201", "1_000", str(MAX_ID + 1), "9" * 40],
    )
    def test_a_malformed_or_out_of_range_id_is_422(
        self, client: httpx2.Client, user_id: str
    ) -> None:
        assert client.get(f"/users/{user_id}").status_code == 422
        assert client.patch(f"/users/{user_id}", json={"name": "x"}).status_code == 422
        assert client.delete(f"/users/{user_id}").status_code == 422

    def test_the_largest_id_the_store_holds_is_a_404(self, client: httpx2.Client) -> None:
        assert client.get(f"/users/{MAX_ID}").status_code == 404

    # Row 3: unknown fields
    def test_unknown_fields_are_ignored(self, client: httpx2.Client) -> None:
        user = register(client)

        created = client.post(
            "/users/", json={"name": "Al", "email": random_email(), "id": 99, "admin": True}
        )
        updated = client.patch(f"/users/{user['id']}", json={"name": "Bo", "created_at": "x"})

        assert created.status_code == 200
        assert created.json()["id"] != 99
        assert "admin" not in created.json()
        assert updated.status_code == 200
        assert updated.json()["created_at"] == user["created_at"]

    # Row 4: GET /users/?limit&after
    def test_pages_walk_every_user_in_id_order(self, client: httpx2.Client) -> None:
        users = [register(client) for _ in range(5)]

        first = client.get("/users/", params={"limit": 2}).json()
        second = client.get("/users/", params={"limit": 2, "after": first["next_after"]}).json()
        last = client.get("/users/", params={"limit": 2, "after": second["next_after"]}).json()

        assert first["items"] + second["items"] + last["items"] == users
        assert first["next_after"] == users[1]["id"]
        assert last["next_after"] is None

    def test_the_default_page_holds_fifty_users(self, client: httpx2.Client) -> None:
        for _ in range(51):
            register(client)

        page = client.get("/users/").json()

        assert len(page["items"]) == 50
        assert page["next_after"] == page["items"][-1]["id"]

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"limit": "ten"},
            {"after": -1},
            {"after": "x"},
            {"after": MAX_ID + 1},
            {"email": "not-an-address"},
        ],
    )
    def test_a_bad_limit_cursor_or_address_is_422(
        self, client: httpx2.Client, params: dict[str, str | int]
    ) -> None:
        assert client.get("/users/", params=params).status_code == 422

    # Row 5: GET /users/?email=
    def test_finding_by_address_ignores_letter_case(self, client: httpx2.Client) -> None:
        user = register(client, "Carol@Example.com")
        register(client)

        found = client.get("/users/", params={"email": "cAROL@example.COM"})
        missing = client.get("/users/", params={"email": random_email()})

        assert found.json() == {"items": [user], "next_after": None}
        assert missing.json() == {"items": [], "next_after": None}

    def test_addresses_that_only_full_case_folding_would_merge_are_two_people(
        self, client: httpx2.Client
    ) -> None:
        sharp = register(client, "straße@example.com")
        double = register(client, "strasse@example.com")

        found = client.get("/users/", params={"email": "Straße@Example.com"}).json()

        assert sharp["id"] != double["id"]
        assert found["items"] == [sharp]

    # Row 6: PATCH /users/{user_id}
    def test_updating_changes_the_named_fields_and_updated_at(self, client: httpx2.Client) -> None:
        user = register(client, name="Dan")

        response = client.patch(f"/users/{user['id']}", json={"email": "DAN@example.com"})

        assert response.status_code == 200
        updated = response.json()
        assert (updated["name"], updated["email"]) == ("Dan", "DAN@example.com")
        assert updated["created_at"] == user["created_at"]
        assert updated["updated_at"] > user["updated_at"]
        assert client.get(f"/users/{user['id']}").json() == updated

    def test_updating_to_another_users_address_is_the_400(self, client: httpx2.Client) -> None:
        taken = register(client, "erin@example.com")
        user = register(client)

        response = client.patch(
            f"/users/{user['id']}", json={"name": "X", "email": "ERIN@example.com"}
        )

        assert response.status_code == 400
        assert response.content == b'{"detail":"Email already registered"}'
        assert client.get(f"/users/{user['id']}").json() == user
        assert client.get(f"/users/{taken['id']}").json() == taken

    def test_updating_a_missing_user_is_the_404(self, client: httpx2.Client) -> None:
        response = client.patch("/users/424242", json={"name": "Nobody"})

        assert response.status_code == 404
        assert response.content == b'{"detail":"User not found"}'

    @pytest.mark.parametrize(
        "body",
        [{}, {"unknown": 1}, {"name": None}, {"email": None}, {"name": ""}, {"email": "x"}, []],
    )
    def test_an_update_that_changes_nothing_valid_is_422(
        self, client: httpx2.Client, body: object
    ) -> None:
        user = register(client)

        response = client.patch(f"/users/{user['id']}", json=body)

        assert response.status_code == 422
        assert client.get(f"/users/{user['id']}").json() == user

    # Row 7: DELETE /users/{user_id}
    def test_deleting_answers_204_with_an_empty_body(self, client: httpx2.Client) -> None:
        user = register(client)

        response = client.delete(f"/users/{user['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert client.get(f"/users/{user['id']}").status_code == 404

    def test_deleting_a_missing_user_is_the_404(self, client: httpx2.Client) -> None:
        response = client.delete("/users/424242")

        assert response.status_code == 404
        assert response.content == b'{"detail":"User not found"}'

    # Row 8: GET /health
    def test_health_reports_the_database(self, client: httpx2.Client) -> None:
        response = client.get("/health")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    # Row 9: GET /health/live
    def test_liveness_answers_without_the_database(self, client: httpx2.Client) -> None:
        response = client.get("/health/live")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    # Errors, for every endpoint
    def test_a_body_over_64_kib_is_413_whether_declared_or_streamed(
        self, client: httpx2.Client
    ) -> None:
        body = b'{"name": "' + b"x" * 65536 + b'", "email": "a@example.com"}'

        declared = client.post(
            "/users/", content=body, headers={"content-type": "application/json"}
        )
        streamed = client.post(
            "/users/",
            content=iter([body[:1000], body[1000:]]),
            headers={"content-type": "application/json"},
        )

        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert declared.json() == {"detail": "Request body too large"}
        assert client.get("/users/").json()["items"] == []

    def test_a_body_of_exactly_64_kib_is_read(self, client: httpx2.Client) -> None:
        head, tail = b'{"email": "' + random_email().encode() + b'", "name": "Al', b'"}'
        body = head + b" " * (65536 - len(head) - len(tail)) + tail

        response = client.post(
            "/users/", content=body, headers={"content-type": "application/json"}
        )

        assert len(body) == 65536
        assert response.status_code == 200

    def test_the_openapi_document_declares_every_status_code(self, client: httpx2.Client) -> None:
        paths = client.get("/openapi.json").json()["paths"]

        def codes(path: str, method: str) -> set[str]:
            return set(paths[path][method]["responses"])

        assert codes("/users/", "post") >= {"200", "400", "413", "422", "503"}
        assert codes("/users/", "get") >= {"200", "422", "503"}
        assert codes("/users/{user_id}", "get") >= {"200", "404", "422", "503"}
        assert codes("/users/{user_id}", "patch") >= {"200", "400", "404", "413", "422", "503"}
        assert codes("/users/{user_id}", "delete") >= {"204", "404", "422", "503"}
        assert codes("/health", "get") >= {"200", "503"}
        assert codes("/health/live", "get") >= {"200"}
