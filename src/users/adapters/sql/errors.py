"""Database errors, each condition named by one matcher, and their translation into the domain's."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError

from users.adapters.sql.tables import EMAIL_KEY_CONSTRAINT
from users.domain.errors import EmailAlreadyRegistered, StoreUnavailable

_DEADLOCK_DETECTED = "40P01"
# undefined_table, undefined_column: the database has no schema of ours, or an older one.
_SCHEMA_MISMATCHES = frozenset({"42P01", "42703"})
_SQLITE_SCHEMA_MISMATCHES = ("no such table:", "no such column:", "table users has no column")
_NOT_A_SQLITE_DATABASE = "file is not a database"


class SchemaNotCurrent(StoreUnavailable):
    """The database answers, but not with the schema revision this build was written for."""


@contextmanager
def translating_errors() -> Iterator[None]:
    """Raise the domain's error for a taken email or a store that cannot serve; let others by."""
    try:
        yield
    except IntegrityError as error:
        if violates_email_key(error):
            raise EmailAlreadyRegistered() from None
        raise
    except DBAPIError as error:
        if is_deadlock(error):
            # Every unit that writes runs one statement on one row (a test pins it), so units
            # can only wait on each other in a cycle through email keys, each unit wanting the
            # address another one holds: whatever the order, that address is taken.
            raise EmailAlreadyRegistered() from None
        if is_schema_mismatch(error):
            raise SchemaNotCurrent(type(error).__name__) from None
        if is_unreachable(error):
            raise StoreUnavailable(type(error).__name__) from None
        raise
    except TimeoutError as error:
        raise StoreUnavailable(type(error).__name__) from None


def violates_email_key(error: IntegrityError) -> bool:
    """Another row has this email key."""
    diagnostics = getattr(error.orig, "diag", None)
    if diagnostics is not None:  # psycopg2 names the violated constraint
        return bool(diagnostics.constraint_name == EMAIL_KEY_CONSTRAINT)
    # SQLite only says which columns: "UNIQUE constraint failed: users.email_key".
    return str(error.orig) == "UNIQUE constraint failed: users.email_key"


def is_deadlock(error: DBAPIError) -> bool:
    """PostgreSQL aborted this transaction to break a cycle of waits."""
    return _sqlstate(error) == _DEADLOCK_DETECTED


def is_unreachable(error: DBAPIError) -> bool:
    """The connection failed or was lost, a timeout cancelled the statement, or the SQLite
    file is not a database at all."""
    return (
        isinstance(error, OperationalError)
        or error.connection_invalidated
        or str(error.orig) == _NOT_A_SQLITE_DATABASE
    )


def is_schema_mismatch(error: DBAPIError) -> bool:
    """A table or column this build's statements name is not in the database."""
    if (sqlstate := _sqlstate(error)) is not None:
        return sqlstate in _SCHEMA_MISMATCHES
    return str(error.orig).startswith(_SQLITE_SCHEMA_MISMATCHES)


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "pgcode", None)
