"""The composition root: which adapter serves each port, built from the settings."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from dependency_injector import containers, providers

from users.adapters.clock import system_clock
from users.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from users.adapters.sql.engine import EngineOptions, Engines, create_engines
from users.adapters.sql.probe import SqlStoreProbe
from users.adapters.sql.schema import expected_revision
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.ports import StoreProbe, UnitOfWorkFactory
from users.domain.services import UserService
from users.settings import Settings


def open_engines(settings: Settings, schema_revision: str) -> Iterator[Engines]:
    """The engines for the configured database, at `schema_revision`; disposed of at shutdown."""
    options = EngineOptions(
        pool_size=settings.concurrency,
        timeout_seconds=settings.request_timeout_seconds,
        connect_timeout_seconds=settings.connect_timeout_seconds,
    )
    engines = create_engines(settings.database, options, schema_revision)
    yield engines
    engines.dispose()


@dataclass(frozen=True)
class Storage:
    """A store's adapters: how to open a unit of work on it, and how to tell it answers."""

    unit_of_work_factory: UnitOfWorkFactory
    probe: StoreProbe


class Container(containers.DeclarativeContainer):
    """Everything the entrypoints need, built lazily, once, from `settings`."""

    settings = providers.ThreadSafeSingleton(Settings)
    store = settings.provided.store

    memory_store = providers.ThreadSafeSingleton(InMemoryStore)
    schema_revision = providers.ThreadSafeSingleton(expected_revision)
    engines = providers.Resource(open_engines, settings, schema_revision)

    # The one switch on the store: what the use cases and the readiness probe are given.
    storage = providers.Selector(
        store,
        memory=providers.ThreadSafeSingleton(
            Storage,
            unit_of_work_factory=providers.Factory(partial, InMemoryUnitOfWork, memory_store),
            probe=memory_store.provided.status,
        ),
        sql=providers.ThreadSafeSingleton(
            Storage,
            unit_of_work_factory=providers.Factory(partial, SqlAlchemyUnitOfWork, engines),
            probe=providers.ThreadSafeSingleton(SqlStoreProbe, engines, schema_revision),
        ),
    )
    # Bound once; the use cases open a unit of work with it on every call.
    unit_of_work_factory = storage.provided.unit_of_work_factory
    store_probe = storage.provided.probe
    user_service = providers.ThreadSafeSingleton(
        UserService,
        unit_of_work=unit_of_work_factory,
        clock=system_clock,
        # No write outlasts its request's deadline: its key is free again after it.
        key_lease=providers.Factory(timedelta, seconds=settings.provided.request_timeout_seconds),
        key_retention=providers.Factory(
            timedelta, seconds=settings.provided.idempotency_retention_seconds
        ),
    )
