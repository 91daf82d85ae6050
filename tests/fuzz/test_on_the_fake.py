"""Schemathesis against the service on the in-memory store."""

import pytest
from fastapi import FastAPI

from tests.fuzz.contract import FuzzContract, app_in_memory


@pytest.fixture
def app() -> FastAPI:
    return app_in_memory()


class TestFuzzInMemory(FuzzContract):
    pass
