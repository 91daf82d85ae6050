"""The HTTP contract (`tests/contracts/http.py`), end to end through PostgreSQL."""

import httpx2

from tests.contracts.http import TOKEN, HttpContract, register


class TestHttpContractOnPostgresql(HttpContract):
    def test_without_replicas_a_write_gives_no_token_as_every_read_sees_it(
        self, client: httpx2.Client
    ) -> None:
        path = f"/users/{register(client)['id']}"

        renamed = client.patch(path, json={"name": "Bea"})

        assert TOKEN not in renamed.headers
        assert client.get(path).json() == renamed.json()
