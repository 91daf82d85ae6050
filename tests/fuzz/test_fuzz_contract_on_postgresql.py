"""The fuzz contract (`tests/contracts/fuzz.py`), on PostgreSQL."""

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.contracts.fuzz import FuzzContract
from tests.support import app_on
from users.adapters.sql.store import SqlStore


@pytest.fixture
def app(sql_store: SqlStore, engine: Engine) -> FastAPI:
    """The service on this run's database; every table is emptied after each case's test."""
    return app_on(sql_store)


class TestFuzzContractOnPostgresql(FuzzContract):
    pass
