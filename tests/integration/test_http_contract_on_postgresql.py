"""The HTTP contract (`tests/contracts/http.py`), end to end through PostgreSQL."""

from tests.contracts.http import HttpContract


class TestHttpContractOnPostgresql(HttpContract):
    pass
