"""The HTTP contract (`tests/contracts/http.py`), end to end through PostgreSQL, and the
consistency tokens only a PostgreSQL store gives."""

import httpx2

from tests.contracts.http import TOKEN, HttpContract, register


class TestHttpContractOnPostgresql(HttpContract):
    def test_every_write_answers_with_a_token_later_than_the_last(
        self, client: httpx2.Client
    ) -> None:
        path = f"/users/{register(client)['id']}"
        read_token = client.get(path).headers.get(TOKEN)

        writes = [
            client.post("/users/", json={"name": "Ann", "email": "ann@example.com"}),
            client.patch(path, json={"name": "Bea"}),
            client.delete(path),
        ]

        tokens = [write.headers[TOKEN] for write in writes]
        assert [write.status_code for write in writes] == [200, 200, 204]
        assert tokens == sorted(tokens)  # fixed-width hex: in order as positions are
        assert len(set(tokens)) == 3
        assert read_token is None
