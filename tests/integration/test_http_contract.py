"""The HTTP contract, end to end through PostgreSQL."""

from tests.http_contract import HttpContract


class TestHttpContractOnPostgres(HttpContract):
    pass
