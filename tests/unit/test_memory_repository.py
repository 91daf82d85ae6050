"""The repository contract, against the in-memory fake."""

from tests.repository_contract import RepositoryContract


class TestInMemoryRepository(RepositoryContract):
    pass
