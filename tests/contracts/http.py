"""The HTTP contract of `docs/api.md`, run against the in-memory store and PostgreSQL alike.

A test class inherits `HttpContract` and provides a `client` fixture: a `TestClient` of an app
whose store is empty.
"""

import re

import httpx2
import pytest

from tests.support import random_email, simultaneously
from users.domain.model import MAX_USER_ID

TOKEN = "Consistency-Token"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def register(
    client: httpx2.Client, email: str | None = None, name: str = "Alice"
) -> dict[str, object]:
    response = client.post("/users/", json={"name": name, "email": email or random_email()})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def registered_at(client: httpx2.Client) -> tuple[str, str]:
    """A newly registered user's path, and its `ETag`."""
    path = f"/users/{register(client)['id']}"
    return path, client.get(path).headers["etag"]


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
        ("name", "rule"),
        [
            ("x" * 101, "name must be 1 to 100 characters after trimming"),
            ("a\u0007b", "name must not contain control characters"),
        ],
    )
    def test_a_refused_name_is_told_which_rule_it_breaks(
        self, client: httpx2.Client, name: str, rule: str
    ) -> None:
        response = client.post("/users/", json={"name": name, "email": "a@example.com"})

        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"type": "value_error", "loc": ["body", "name"], "msg": f"Value error, {rule}"}
        ]

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
        ["abc", "0", "-1", "1.5", "1.0", "+1", "%201", "1_000", str(MAX_USER_ID + 1), "9" * 40],
    )
    def test_a_malformed_or_out_of_range_id_is_422(
        self, client: httpx2.Client, user_id: str
    ) -> None:
        assert client.get(f"/users/{user_id}").status_code == 422
        assert client.patch(f"/users/{user_id}", json={"name": "x"}).status_code == 422
        assert client.delete(f"/users/{user_id}").status_code == 422

    def test_the_largest_id_the_store_holds_is_a_404(self, client: httpx2.Client) -> None:
        assert client.get(f"/users/{MAX_USER_ID}").status_code == 404

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
            {"after": MAX_USER_ID + 1},
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

    def test_the_openapi_document_declares_the_conditional_and_retry_headers(
        self, client: httpx2.Client
    ) -> None:
        paths = client.get("/openapi.json").json()["paths"]

        def headers(path: str, method: str) -> set[str]:
            parameters = paths[path][method].get("parameters", [])
            return {p["name"] for p in parameters if p["in"] == "header"}

        def codes(path: str, method: str) -> set[str]:
            return set(paths[path][method]["responses"])

        user = "/users/{user_id}"
        assert headers("/users/", "post") >= {"Idempotency-Key"}
        assert headers(user, "get") >= {"If-None-Match", "If-Match"}
        assert headers(user, "patch") >= {"If-Match", "If-None-Match", "Idempotency-Key"}
        assert headers(user, "delete") >= {"If-Match", "If-None-Match"}
        assert codes("/users/", "post") >= {"409", "422"}
        assert codes(user, "get") >= {"304", "412"}
        assert codes(user, "patch") >= {"409", "412", "422"}
        assert codes(user, "delete") >= {"412"}
        for path, method in [("/users/", "post"), (user, "get"), (user, "patch")]:
            assert "ETag" in paths[path][method]["responses"]["200"]["headers"]
        assert {path for path, operations in paths.items() if "head" in operations} == {
            path for path, operations in paths.items() if "get" in operations
        }

    # Row 10: HEAD, and 405
    @pytest.mark.parametrize("path", ["/users/", "/users/{id}", "/health", "/health/live"])
    def test_head_answers_as_get_without_a_body(self, client: httpx2.Client, path: str) -> None:
        user = register(client)
        path = path.format(id=user["id"])

        head = client.head(path)
        get = client.get(path)  # on the same connection: a body after HEAD would garble it

        assert (head.status_code, head.content) == (200, b"")
        assert get.status_code == 200
        for header in ("content-type", "content-length", "etag"):
            assert head.headers.get(header) == get.headers.get(header)

    def test_a_405_allows_every_method_of_the_path(self, client: httpx2.Client) -> None:
        on_users = client.put("/users/")
        on_a_user = client.put("/users/1")
        on_health = client.post("/health")

        assert (on_users.status_code, on_users.headers["allow"]) == (405, "GET, HEAD, POST")
        assert on_a_user.headers["allow"] == "DELETE, GET, HEAD, PATCH"
        assert on_health.headers["allow"] == "GET, HEAD"

    # Conditional requests
    def test_every_answer_carrying_a_user_has_a_strong_etag_that_every_write_changes(
        self, client: httpx2.Client
    ) -> None:
        created = client.post("/users/", json={"name": "Al", "email": random_email()})
        path = f"/users/{created.json()['id']}"
        read = client.get(path)
        updated = client.patch(path, json={"name": "Bo"})
        updated_again = client.patch(path, json={"name": "Bo"})

        tags = [r.headers["etag"] for r in (created, read, updated, updated_again)]
        assert all(re.fullmatch(r'"[^"]+"', tag) for tag in tags)
        assert tags[0] == tags[1]
        assert len({tags[1], tags[2], tags[3]}) == 3
        assert client.get(path).headers["etag"] == tags[3]

    def test_a_read_naming_the_current_tag_is_304_without_a_body(
        self, client: httpx2.Client
    ) -> None:
        path, tag = registered_at(client)

        for if_none_match in (tag, f"W/{tag}", f'"0-0", {tag}', "*"):
            response = client.get(path, headers={"If-None-Match": if_none_match})
            assert (response.status_code, response.content) == (304, b"")
            assert response.headers["etag"] == tag
        assert client.head(path, headers={"If-None-Match": tag}).status_code == 304

    def test_a_read_naming_an_old_tag_gets_the_user(self, client: httpx2.Client) -> None:
        path, old = registered_at(client)
        client.patch(path, json={"name": "Changed"})

        response = client.get(path, headers={"If-None-Match": old})

        assert response.status_code == 200
        assert response.json()["name"] == "Changed"

    def test_a_write_on_an_old_tag_is_412_and_changes_nothing(self, client: httpx2.Client) -> None:
        path, old = registered_at(client)
        current = client.patch(path, json={"name": "Theirs"}).json()

        lost_update = client.patch(path, json={"name": "Mine"}, headers={"If-Match": old})
        lost_delete = client.delete(path, headers={"If-Match": old})
        weak = client.patch(path, json={"name": "Mine"}, headers={"If-Match": f"W/{old}"})

        assert (lost_update.status_code, lost_delete.status_code, weak.status_code) == (
            412,
            412,
            412,
        )
        assert lost_update.content == b'{"detail":"User has changed"}'
        assert client.get(path).json() == current

    def test_a_write_on_the_current_tag_applies(self, client: httpx2.Client) -> None:
        path, tag = registered_at(client)

        updated = client.patch(path, json={"name": "Mine"}, headers={"If-Match": tag})
        deleted = client.delete(path, headers={"If-Match": updated.headers["etag"]})

        assert (updated.status_code, deleted.status_code) == (200, 204)
        assert client.get(path).status_code == 404

    def test_if_none_match_any_on_a_write_refuses_an_existing_user(
        self, client: httpx2.Client
    ) -> None:
        user = register(client)
        path = f"/users/{user['id']}"

        assert (
            client.patch(path, json={"name": "X"}, headers={"If-None-Match": "*"}).status_code
            == 412
        )
        assert client.patch(path, json={"name": "X"}, headers={"If-Match": "*"}).status_code == 200

    def test_a_conditional_write_to_a_missing_user_is_the_404(self, client: httpx2.Client) -> None:
        for headers in ({"If-Match": "*"}, {"If-Match": '"424242-1"'}, {"If-None-Match": "*"}):
            assert (
                client.patch("/users/424242", json={"name": "X"}, headers=headers).status_code
                == 404
            )
            assert client.delete("/users/424242", headers=headers).status_code == 404
            assert client.get("/users/424242", headers=headers).status_code == 404

    @pytest.mark.parametrize(
        "if_match",
        [
            '"{id}-1',  # unterminated
            "{id}-1",  # unquoted
            'x "{id}-1"',  # not a list of tags
            '"{id}-01"',  # not the tag the service wrote, though the same number
            '"{id}-99999999999999999999999"',  # beyond what the store can hold
            '"{id}-' + "9" * 5000 + '"',  # beyond what Python turns into an int
        ],
    )
    def test_an_unreadable_or_impossible_if_match_matches_nothing(
        self, client: httpx2.Client, if_match: str
    ) -> None:
        user = register(client)
        path = f"/users/{user['id']}"

        write = client.patch(
            path, json={"name": "X"}, headers={"If-Match": if_match.format(**user)}
        )
        read = client.get(path, headers={"If-None-Match": if_match.format(**user)})

        assert (write.status_code, read.status_code) == (412, 200)

    def test_a_read_whose_if_match_names_an_old_tag_is_412(self, client: httpx2.Client) -> None:
        path, old = registered_at(client)
        current = client.patch(path, json={"name": "Changed"}).headers["etag"]

        stale = client.get(path, headers={"If-Match": old})
        fresh = client.get(path, headers={"If-Match": current})

        assert (stale.status_code, stale.json()) == (412, {"detail": "User has changed"})
        assert fresh.status_code == 200

    def test_a_tag_list_may_come_on_several_lines_and_hold_empty_elements(
        self, client: httpx2.Client
    ) -> None:
        path, tag = registered_at(client)

        on_two_lines = client.get(
            path, headers=[("If-None-Match", '"0-1"'), ("If-None-Match", tag)]
        )
        with_empty_elements = client.patch(
            path, json={"name": "X"}, headers={"If-Match": f",{tag}, ,"}
        )

        assert (on_two_lines.status_code, with_empty_elements.status_code) == (304, 200)

    def test_more_than_100_entity_tags_is_422(self, client: httpx2.Client) -> None:
        path, _ = registered_at(client)
        many = ", ".join(f'"x-{i}"' for i in range(101))

        response = client.patch(path, json={"name": "X"}, headers={"If-Match": many})

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "If-Match"]

    def test_of_simultaneous_writes_on_one_tag_exactly_one_applies(
        self, client: httpx2.Client
    ) -> None:
        path, tag = registered_at(client)
        writes = [("PATCH", path, {"name": f"Writer {i}"}) for i in range(8)]

        statuses = simultaneously(client, writes, headers={"If-Match": tag})

        assert sorted(statuses) == [200] + [412] * 7

    # Safe retries
    def test_a_retried_registration_gets_the_first_answer_and_registers_no_one_else(
        self, client: httpx2.Client
    ) -> None:
        body = {"name": "Ann", "email": random_email()}
        key = {"Idempotency-Key": "3f1c2a-registration"}

        first = client.post("/users/", json=body, headers=key)
        retried = client.post("/users/", json=body, headers=key)

        assert first.status_code == retried.status_code == 200
        assert retried.content == first.content
        assert retried.headers["etag"] == first.headers["etag"]
        assert client.get("/users/").json()["items"] == [first.json()]

    def test_a_retried_update_is_applied_once(self, client: httpx2.Client) -> None:
        user = register(client)
        path = f"/users/{user['id']}"
        key = {"Idempotency-Key": "update-once"}

        first = client.patch(path, json={"name": "Once"}, headers=key)
        retried = client.patch(path, json={"name": "Once"}, headers=key)

        assert retried.content == first.content
        assert retried.headers["etag"] == first.headers["etag"] == client.get(path).headers["etag"]

    def test_a_retry_gets_a_refusal_again_even_once_it_no_longer_holds(
        self, client: httpx2.Client
    ) -> None:
        taken = register(client)
        body = {"name": "Ann", "email": taken["email"]}
        key = {"Idempotency-Key": "refused-once"}
        first = client.post("/users/", json=body, headers=key)
        client.delete(f"/users/{taken['id']}")

        retried = client.post("/users/", json=body, headers=key)

        assert (first.status_code, retried.status_code) == (400, 400)
        assert retried.content == first.content == b'{"detail":"Email already registered"}'

    def test_a_key_sent_with_another_body_is_422_and_changes_nothing(
        self, client: httpx2.Client
    ) -> None:
        key = {"Idempotency-Key": "one-request"}
        first = client.post("/users/", json={"name": "Ann", "email": random_email()}, headers=key)

        other = client.post("/users/", json={"name": "Bob", "email": random_email()}, headers=key)

        assert other.status_code == 422
        assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
        assert client.get("/users/").json()["items"] == [first.json()]

    @pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9".encode().decode("unicode_escape")])
    def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_422(
        self, client: httpx2.Client, key: str
    ) -> None:
        response = client.post(
            "/users/",
            json={"name": "Ann", "email": random_email()},
            headers={b"Idempotency-Key": key.encode("latin-1")},
        )

        assert response.status_code == 422
        assert client.get("/users/").json()["items"] == []

    def test_of_ten_simultaneous_requests_with_one_key_one_registers(
        self, client: httpx2.Client
    ) -> None:
        body = {"name": "Ann", "email": random_email()}
        requests = [("POST", "/users/", body)] * 10

        statuses = simultaneously(client, requests, headers={"Idempotency-Key": "ten-at-once"})

        assert set(statuses) <= {200, 409}
        assert 200 in statuses
        assert len(client.get("/users/").json()["items"]) == 1

    # Reading your writes: the Consistency-Token
    @pytest.mark.parametrize(
        "token", ["", "0/16B3748", "00000000016B3748", "0" * 15, "0" * 17, "0" * 16 + ", 1"]
    )
    def test_a_consistency_token_that_cannot_be_read_is_422_on_every_read(
        self, client: httpx2.Client, token: str
    ) -> None:
        user = register(client)
        reads = [f"/users/{user['id']}", "/users/", f"/users/?email={user['email']}"]

        answers = [client.get(path, headers={TOKEN: token}) for path in reads]
        head = client.head(reads[0], headers={TOKEN: token})

        assert [answer.status_code for answer in answers] == [422] * len(reads)
        assert {answer.json()["detail"][0]["loc"][1] for answer in answers} == {TOKEN}
        assert head.status_code == 422

    def test_a_token_past_anything_written_yet_is_read_on_the_primary(
        self, client: httpx2.Client
    ) -> None:
        user = register(client)

        read = client.get(f"/users/{user['id']}", headers={TOKEN: "7fffffffffffffff"})

        assert read.status_code == 200
        assert read.json() == user
