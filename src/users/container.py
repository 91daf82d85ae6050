"""The composition root: which adapter serves each port, built from the settings."""

from collections.abc import Iterator

from dependency_injector import containers, providers
from sqlalchemy import Engine, text

from users.adapters.clock import system_clock
from users.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from users.adapters.sql.engine import EngineOptions, create_database_engine, database_url
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.errors import StoreUnavailable
from users.domain.services import UserService
from users.settings import Settings


def open_engine(settings: Settings) -> Iterator[Engine]:
    """The engine for the configured database, disposed of when the container shuts down."""
    options = EngineOptions(
        pool_size=settings.concurrency,
        pool_timeout_seconds=settings.pool_timeout_seconds,
        connect_timeout_seconds=settings.connect_timeout_seconds,
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    engine = create_database_engine(database_url(settings.database_url.get_secret_value()), options)
    yield engine
    engine.dispose()


def database_answers(engine: Engine) -> bool:
    """Whether one trivial query succeeds (after one reconnection, as for any request)."""
    try:
        with SqlAlchemyUnitOfWork(engine) as unit:
            unit.execute(text("SELECT 1"), {})
    except StoreUnavailable:
        return False
    return True


def memory_answers(store: InMemoryStore) -> bool:
    """Whether the in-memory store is switched on (tests switch it off)."""
    return store.reachable


class Container(containers.DeclarativeContainer):
    """Everything the entrypoints need, built lazily, once, from `settings`."""

    settings = providers.ThreadSafeSingleton(Settings)
    store = settings.provided.store

    memory_store = providers.ThreadSafeSingleton(InMemoryStore)
    engine = providers.Resource(open_engine, settings)

    unit_of_work = providers.Selector(
        store,
        memory=providers.Factory(InMemoryUnitOfWork, memory_store),
        sql=providers.Factory(SqlAlchemyUnitOfWork, engine),
    )
    store_reachable = providers.Selector(
        store,
        memory=providers.Callable(memory_answers, memory_store),
        sql=providers.Callable(database_answers, engine),
    )
    user_service = providers.ThreadSafeSingleton(
        UserService, unit_of_work=unit_of_work.provider, clock=system_clock
    )
