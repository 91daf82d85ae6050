"""The repository contract (`tests/contracts/repository.py`), on the in-memory fake."""

from tests.contracts.repository import RepositoryContract


class TestRepositoryContractOnTheFake(RepositoryContract):
    pass
