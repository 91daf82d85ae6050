"""A SQL database as the service runs it: two pools held to this build's schema revision, units
of work on them, the readiness probe, and the migrations."""

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial

from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from users.adapters.sql.engine import (
    EngineOptions,
    Engines,
    create_bookkeeping_engine,
    create_engines,
    refuse_unservable,
    shown,
)
from users.adapters.sql.errors import SchemaNotCurrent, one_line
from users.adapters.sql.migration_session import MigrationOptions
from users.adapters.sql.presence import present
from users.adapters.sql.refusals import MigrationRefused
from users.adapters.sql.schema import (
    build_schema,
    expected_revision,
    migrate,
    revision_at,
)
from users.adapters.sql.steps import SchemaRefused
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.errors import StoreUnavailable
from users.domain.ports import ReadFigures, StoreStatus, UnitOfWorkFactory


class SqlStore:
    """PostgreSQL or SQLite, at the URL it was opened on; every worker process opens its own."""

    one_process_only = False

    def __init__(
        self,
        url: URL,
        options: EngineOptions,
        engines: Engines,
        migrations: MigrationOptions | None = None,
    ) -> None:
        self._url = url
        self._options = options
        self._engines = engines
        self._migrations = migrations or MigrationOptions()
        # Bound once: the use cases open a unit of work with it on every call.
        self.unit_of_work: UnitOfWorkFactory = partial(SqlAlchemyUnitOfWork, engines)

    @classmethod
    def open(
        cls,
        url: URL,
        options: EngineOptions,
        migrations: MigrationOptions | None = None,
        replica_urls: Sequence[URL] = (),
    ) -> "SqlStore":
        """The store at `url`, reading from `replica_urls` too; no connection is made until one
        is needed."""
        engines = create_engines(url, options, build_schema(), replica_urls)
        return cls(url, options, engines, migrations)

    @contextmanager
    def serving(self) -> Iterator[None]:
        """While in it, the database knows this process serves this build (`presence.py`), and
        the replicas are looked at, so that reads may go to them (`replicas.py`).

        No presence on SQLite: one process serves a file, and a second writer on it would race
        the request pools' first connection switching the file to write-ahead logging.
        """
        with ExitStack() as serving:
            if self._url.get_backend_name() != "sqlite":
                engine = create_bookkeeping_engine(self._url, self._options)
                serving.enter_context(present(engine, expected_revision()))
            if self._engines.replicas is not None:
                serving.enter_context(self._engines.replicas.watching())
            yield

    def reads(self) -> list[ReadFigures]:
        """Where reads went, and how each replica fares; nothing without replicas."""
        return [] if self._engines.replicas is None else self._engines.replicas.figures()

    def close(self) -> None:
        self._engines.dispose()

    def connections_in_use(self) -> int:
        """How many pooled connections requests hold now."""
        return self._engines.checked_out()

    def probe(self) -> StoreStatus:
        """One query, through a unit of work as any request's (so a pooled connection that
        died while idle is replaced, not reported)."""
        try:
            with SqlAlchemyUnitOfWork(self._engines, read_only=True, on_primary=True) as unit:
                refuse_unservable(
                    build_schema(), lambda sql: unit.connection.execute(text(sql), {}).all()
                )
        except (SchemaNotCurrent, SchemaRefused):
            return StoreStatus.SCHEMA_OUT_OF_DATE
        except (StoreUnavailable, DBAPIError):
            # Whatever else the database answers (a permission refused, say), it cannot serve.
            return StoreStatus.UNREACHABLE
        return StoreStatus.OK

    def migrate(self, *, contract: bool = False) -> tuple[bool, str]:
        """Apply this build's expand steps (its contract steps too with `contract`), adopting
        the replaced app's table on the way. Whether it is done, and what was done, in one
        line; or why not (nothing changed), in one line or a list of the rows in the way."""
        try:
            migration = migrate(self._url, self._migrations, contract=contract)
        except DBAPIError as error:
            return False, f"cannot migrate the database at {self._shown}: {one_line(error)}"
        except MigrationRefused as refusal:
            return False, f"{self._shown}: {refusal}"
        return True, f"database {self._shown} at schema revision {migration.after}: {migration}"

    def check_schema(self) -> tuple[bool, str]:
        """Whether the schema is this build's, without changing it, and what was found."""
        try:
            revision = revision_at(self._url, self._migrations)
        except DBAPIError as error:
            return False, f"database {self._shown} does not answer: {one_line(error)}"
        except MigrationRefused as refusal:
            return False, f"database {self._shown}: {refusal}"
        found = revision or "none of this service's"
        where = f"database {self._shown} at schema revision {found}"
        if not build_schema().is_behind(revision):
            return True, f"{where}: not migrated (up to date)"
        return False, (
            f"{where}, not migrated; this build expects {expected_revision()}, so /health "
            "answers 503 until `users-api migrate` runs"
        )

    @property
    def _shown(self) -> str:
        return shown(self._url)
