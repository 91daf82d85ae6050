"""Helpers every test layer shares."""

import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from sqlalchemy import URL

from users.adapters.memory import MEMORY_URL, InMemoryStore, InMemoryUnitOfWork
from users.container import Container, Store
from users.domain.errors import StoreUnavailable
from users.domain.model import Email, NewUser
from users.domain.ports import Clock, StoreStatus, UnitOfWorkFactory
from users.domain.services import UserService
from users.entrypoints.http.app import create_app
from users.settings import Settings


def random_email(domain: str = "example.com") -> str:
    """An address no other test uses."""
    return f"user-{uuid.uuid4().hex[:12]}@{domain}"


def new_user(email: str | None = None, name: str = "Alice") -> NewUser:
    """A valid user to add, at a fixed moment."""
    return NewUser(name=name, email=Email.parse(email or random_email()), created_at=MOMENT)


MOMENT = datetime(2026, 11, 24, 15, 20, 11, 123456, tzinfo=UTC)
KEY_LEASE = timedelta(seconds=5)
KEY_RETENTION = timedelta(hours=24)


def user_service(uow_factory: UnitOfWorkFactory, clock: Clock | None = None) -> UserService:
    """The use cases over `uow_factory`, on a `SteppingClock` unless told otherwise."""
    return UserService(
        unit_of_work=uow_factory,
        clock=clock or SteppingClock(),
        key_lease=KEY_LEASE,
        key_retention=KEY_RETENTION,
    )


class SteppingClock:
    """A clock that moves one second forward each time it is read."""

    def __init__(self, start: datetime = MOMENT) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


def app_on(
    store: Store | URL | str = MEMORY_URL, *, users: object = None, **settings: object
) -> FastAPI:
    """The service as `users-api serve` builds it, on `store`: a database URL, or a store the
    test made (one it can switch off, or one on the run's shared engines). `users` stands in
    for the use cases if given; `settings` replace the defaults."""
    overrides: dict[str, providers.Provider[object]] = {}
    if isinstance(store, URL):
        store = store.render_as_string(hide_password=False)
    if not isinstance(store, str):
        overrides["store"], store = providers.Object(store), MEMORY_URL
    if users is not None:
        overrides["user_service"] = providers.Object(users)
    configured = Settings(database_url=store, **settings)  # type: ignore[arg-type]
    return create_app(Container(settings=providers.Object(configured), **overrides))


class SwitchableStore(InMemoryStore):
    """The in-memory store, which a test can switch off: while `down`, units of work and the
    readiness probe find it unreachable, as they would a database that stopped answering."""

    down = False

    def unit_of_work(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        if self.down:
            raise StoreUnavailable("the test switched the store off")
        return super().unit_of_work(read_only=read_only)

    def probe(self) -> StoreStatus:
        return StoreStatus.UNREACHABLE if self.down else StoreStatus.OK


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


Request = tuple[str, str, dict[str, str]]


def simultaneously(
    client: httpx2.Client, requests: list[Request], headers: dict[str, str] | None = None
) -> list[int]:
    """Send all `requests` at once, each from its own thread, and return their statuses.

    Through a `TestClient` they all reach the app in the one event loop where its lifespan
    ran, as under uvicorn.
    """
    with ThreadPoolExecutor(max_workers=len(requests)) as threads:
        responses = threads.map(
            lambda request: client.request(
                request[0], request[1], json=request[2] or None, headers=headers
            ),
            requests,
        )
        return [response.status_code for response in responses]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition()` until true; the seconds it took. Fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - started
