"""The unit layer: domain and API over the in-memory fake, with no socket and no database."""

import socket
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import SwitchableStore, app_on, user_service
from users.adapters.memory import InMemoryDatabase
from users.domain.ports import UnitOfWorkFactory
from users.domain.services import UserService


class IsolationBreach(AssertionError):
    """A unit test tried to reach the network or a database."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise IsolationBreach("unit tests must not open sockets or databases")


@pytest.fixture(autouse=True)
def _no_sockets_and_no_databases() -> Iterator[None]:
    """Every unit test, and its fixtures, run with the network and the databases refused."""
    # Local (AF_UNIX) socket pairs stay allowed: the test client's event loop wakes itself up
    # through one.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_inet(socket.socket.connect))
        patch.setattr(socket.socket, "connect_ex", _refuse_inet(socket.socket.connect_ex))
        patch.setattr(socket, "getaddrinfo", _refuse)
        patch.setattr(psycopg2, "connect", _refuse)
        patch.setattr(sqlite3, "connect", _refuse)
        yield


def _refuse_inet(connect: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: socket.socket, *args: object) -> object:
        if self.family != socket.AF_UNIX:
            _refuse()
        return connect(self, *args)

    return guarded


@pytest.fixture
def store() -> SwitchableStore:
    """An empty in-memory store of this test's own, up until the test switches it off."""
    return SwitchableStore()


@pytest.fixture
def database(store: SwitchableStore) -> InMemoryDatabase:
    """What `store` holds, for a test to look into."""
    return store.database


@pytest.fixture
def uow_factory(store: SwitchableStore) -> UnitOfWorkFactory:
    return store.unit_of_work


@pytest.fixture
def service(store: SwitchableStore) -> UserService:
    return user_service(store.unit_of_work)


@pytest.fixture
def app(store: SwitchableStore) -> FastAPI:
    return app_on(store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
