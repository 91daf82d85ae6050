"""The fuzz contract (`tests/contracts/fuzz.py`), on the in-memory fake."""

import pytest
from fastapi import FastAPI

from tests.contracts.fuzz import FuzzContract
from tests.support import app_on


@pytest.fixture
def app() -> FastAPI:
    return app_on()


class TestFuzzContractOnTheFake(FuzzContract):
    pass
