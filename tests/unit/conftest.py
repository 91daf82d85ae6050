"""The unit layer: domain and API over the in-memory fake, with no socket and no database."""

import socket
import sqlite3
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import psycopg2
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import Outage, user_service
from users.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from users.container import Container, Storage
from users.domain.ports import StoreStatus, UnitOfWork, UnitOfWorkFactory
from users.domain.services import UserService
from users.entrypoints.app import create_app
from users.settings import Settings


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
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def uow_factory(store: InMemoryStore) -> UnitOfWorkFactory:
    return partial(InMemoryUnitOfWork, store)


@pytest.fixture
def outage(store: InMemoryStore) -> Outage:
    return Outage(store)


@pytest.fixture
def service(outage: Outage) -> UserService:
    return user_service(outage.unit_of_work)


@pytest.fixture
def app(outage: Outage) -> FastAPI:
    return app_over(outage)


def app_over(store: "Outage | StoreSeat") -> FastAPI:
    """The service on the in-memory `store`, which may be switched off."""
    container = Container(
        settings=providers.Object(Settings(database_url="memory://")),
        storage=providers.Object(Storage(store.unit_of_work, store.probe)),
    )
    return create_app(container)


class StoreSeat:
    """Where an app that several tests share finds its store: the current test's `outage`."""

    outage: Outage

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        return self.outage.unit_of_work(read_only=read_only)

    def probe(self) -> StoreStatus:
        return self.outage.probe()


@pytest.fixture(scope="session")
def seat() -> StoreSeat:
    return StoreSeat()


@pytest.fixture(scope="session")
def app_on_the_seat(seat: StoreSeat) -> FastAPI:
    return app_over(seat)


@pytest.fixture
def shared_app(app_on_the_seat: FastAPI, seat: StoreSeat, outage: Outage) -> FastAPI:
    """An app built once, serving this test's store and its outage switch."""
    seat.outage = outage
    return app_on_the_seat


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
