"""Schemathesis against the service on PostgreSQL."""

import pytest
from dependency_injector import providers
from fastapi import FastAPI
from sqlalchemy import URL, Engine

from tests.fuzz.contract import FuzzContract
from tests.support import app_on
from users.adapters.sql.engine import Engines


@pytest.fixture
def app(database_url: URL, engines: Engines, engine: Engine) -> FastAPI:
    """The service on this run's database; every table is emptied after each case's test."""
    return app_on(database_url, {"engines": providers.Object(engines)})


class TestFuzzOnPostgres(FuzzContract):
    pass
