"""The composition root: which adapter serves each port, built from the settings."""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Protocol

from dependency_injector import containers, providers

from users.adapters.clock import system_clock
from users.adapters.memory import InMemoryStore
from users.adapters.sql.engine import EngineOptions
from users.adapters.sql.migration_session import MigrationOptions
from users.adapters.sql.store import SqlStore
from users.domain.ports import ReadFigures, StoreStatus, UnitOfWork
from users.domain.services import UserService
from users.settings import Settings


class Store(Protocol):
    """Where users are kept, as the entrypoints use it: the container picks one, once."""

    one_process_only: bool
    """Whether every process serving it would see users of its own."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work on the store: the use cases' `UnitOfWorkFactory`."""
        ...

    def probe(self) -> StoreStatus:
        """Whether it can serve now: for readiness."""
        ...

    def serving(self) -> AbstractContextManager[None]:
        """While in it, the store knows this process serves: for `migrate --contract`."""
        ...

    def migrate(self, *, contract: bool = False) -> tuple[bool, str]:
        """Apply the schema's expand steps (and contract steps with `contract`): whether it is
        done, and what was done or why not."""
        ...

    def check_schema(self) -> tuple[bool, str]:
        """Whether the schema is this build's, and what was found, changing nothing."""
        ...

    def connections_in_use(self) -> int:
        """How many of its connections requests hold now."""
        ...

    def reads(self) -> list[ReadFigures]:
        """Where reads went, for metrics: nothing unless it reads from replicas."""
        ...

    def close(self) -> None: ...


def open_sql_store(settings: Settings) -> Iterator[SqlStore]:
    """The configured SQL database's store; closed at shutdown."""
    options = EngineOptions(
        pool_size=settings.concurrency,
        timeout_seconds=settings.request_timeout_seconds,
        connect_timeout_seconds=settings.connect_timeout_seconds,
        replica_max_lag_seconds=settings.replica_max_lag_seconds,
    )
    migrations = MigrationOptions(
        connect_timeout_seconds=settings.connect_timeout_seconds,
        lock_timeout_seconds=settings.migration_lock_timeout_seconds,
        wait_seconds=settings.migration_wait_seconds,
    )
    store = SqlStore.open(settings.database, options, migrations, settings.replicas)
    yield store
    store.close()


class Container(containers.DeclarativeContainer):
    """Everything the entrypoints need, built lazily, once, from `settings`."""

    settings = providers.ThreadSafeSingleton(Settings)

    # The one switch on the kind of store: everything else asks the store it chose.
    store = providers.Selector(
        settings.provided.store_kind,
        memory=providers.ThreadSafeSingleton(InMemoryStore),
        sql=providers.Resource(open_sql_store, settings),
    )
    user_service = providers.ThreadSafeSingleton(
        UserService,
        unit_of_work=store.provided.unit_of_work,
        clock=system_clock,
        # No write outlasts its request's deadline: its key is free again after it.
        key_lease=providers.Factory(timedelta, seconds=settings.provided.request_timeout_seconds),
        key_retention=providers.Factory(
            timedelta, seconds=settings.provided.idempotency_retention_seconds
        ),
    )
