"""The schema: owned by the Alembic migrations in this package, which `migrate` applies.

A database holding the replaced app's `users` table is adopted on the way, in the same
transaction: on PostgreSQL, and on SQLite too (its DDL is transactional once pysqlite stops
managing transactions itself), the database ends migrated or exactly as it was.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, create_engine, event, text
from sqlalchemy.pool import NullPool

from users.adapters.clock import system_clock
from users.adapters.sql.adoption import find_legacy_table, put_back, take_out_legacy_users
from users.adapters.sql.refusals import MigrationRefused

_SCRIPTS = "users.adapters.sql:migrations"
# Any constant will do: it keeps two services that start together from migrating at once.
_MIGRATION_LOCK = 7_203_441
# How long a migration waits for another's write lock on SQLite (its default is 5 s).
_SQLITE_TURN_SECONDS = 600


class UnknownRevision(MigrationRefused):
    """The database records a revision this build has no migration for (a newer build's)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate` found and left: revisions before and after, and any users it adopted."""

    before: str | None
    after: str
    adopted_users: int | None = None
    highest_adopted_id: int = 0

    def __str__(self) -> str:
        if self.adopted_users is not None:
            return (
                f"adopted the replaced app's users table ({self.adopted_users} users; "
                f"new ids follow {self.highest_adopted_id})"
            )
        if self.before == self.after:
            return "already up to date"
        return f"migrated from {self.before or 'an empty database'}"


def expected_revision() -> str:
    """The revision this build's code is written for: its last migration's."""
    head = _scripts().get_current_head()
    assert head is not None, "the package ships its migrations"
    return head


def migrate(url: URL) -> Migration:
    """Bring the database at `url` to `expected_revision()`, adopting the replaced app's table."""
    with migration_connection(url) as connection:
        before = current_revision(connection)
        _refuse_unknown(before)
        legacy = None
        if before is None and find_legacy_table(connection):
            legacy = take_out_legacy_users(connection, adopted_at=system_clock())
        command.upgrade(alembic_config(connection), "head")
        if legacy is None:
            return Migration(before, expected_revision())
        put_back(connection, legacy)
        return Migration(None, expected_revision(), len(legacy.rows), legacy.highest_id)


def revision_at(url: URL) -> str | None:
    """The schema revision of the database at `url`; `None` if it has none of this service's.
    A revision this build does not know is refused (`UnknownRevision`), as `migrate` does."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    finally:
        engine.dispose()
    _refuse_unknown(revision)
    return revision


def current_revision(connection: Connection) -> str | None:
    """The revision `alembic_version` records, `None` if none; refused if it records several."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise UnknownRevision(
            f"the database records several schema revisions {list(heads)}; this service's "
            "history is one line: keep the right one in alembic_version"
        )
    return heads[0] if heads else None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package's migrations, run on `connection` if given."""
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    config.attributes["connection"] = connection
    return config


@contextmanager
def migration_connection(url: URL) -> Iterator[Connection]:
    """A connection in one transaction, committed at the end, alone among migrating services."""
    sqlite = url.get_backend_name() == "sqlite"
    # Another service migrating holds the lock: wait for it, as for PostgreSQL's advisory lock.
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"timeout": _SQLITE_TURN_SECONDS} if sqlite else {}
    )
    if sqlite:
        # pysqlite would commit before DDL; SQLAlchemy's documented recipe lets it through
        # in the transaction. IMMEDIATE takes the write lock at once: migrations take turns.
        event.listen(engine, "connect", _sqlite_leaves_transactions_to_us)
        event.listen(
            engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE")
        )
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            yield connection
    finally:
        engine.dispose()


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _refuse_unknown(revision: str | None) -> None:
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision is not None and revision not in known:
        raise UnknownRevision(
            f"the database is at schema revision {revision!r}, which this build does not know "
            f"(its last is {expected_revision()!r}): serve the build that migrated it"
        )


def _sqlite_leaves_transactions_to_us(dbapi_connection: object, _: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
