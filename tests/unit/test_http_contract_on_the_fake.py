"""The HTTP contract (`tests/contracts/http.py`), on the in-memory fake."""

import pytest
from fastapi import FastAPI

from tests.contracts.http import HttpContract
from tests.support import SwitchableStore, app_on
from users.adapters.memory import InMemoryDatabase


@pytest.fixture(scope="session")
def shared_store() -> SwitchableStore:
    return SwitchableStore()


@pytest.fixture(scope="session")
def shared_app(shared_store: SwitchableStore) -> FastAPI:
    return app_on(shared_store)


class TestHttpContractOnTheFake(HttpContract):
    @pytest.fixture
    def app(self, shared_app: FastAPI, shared_store: SwitchableStore) -> FastAPI:
        """One app for the whole contract (building one costs more than most of its tests),
        over an empty store for each test."""
        shared_store.database = InMemoryDatabase()
        return shared_app
