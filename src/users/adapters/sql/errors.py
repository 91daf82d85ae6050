"""Database errors, each condition named by one matcher, and their translation into the domain's."""

from types import TracebackType

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    StatementError,
    TimeoutError,
)

from users.adapters.sql.tables import EMAIL_KEY_CONSTRAINT
from users.domain.errors import DomainError, EmailAlreadyRegistered, StoreUnavailable

_DEADLOCK_DETECTED = "40P01"
_LOCK_NOT_AVAILABLE = "55P03"
# read_only_sql_transaction: a standby (after a failover, say), or a database set read-only.
_READ_ONLY = "25006"
# undefined_table, undefined_column: the database has no schema of ours, or an older one.
_SCHEMA_MISMATCHES = frozenset({"42P01", "42703"})
_SQLITE_SCHEMA_MISMATCHES = ("no such table:", "no such column:", "table users has no column")
_NOT_A_SQLITE_DATABASE = "file is not a database"


class SchemaNotCurrent(StoreUnavailable):
    """The database answers, but not with the schema revision this build was written for."""


def one_line(error: BaseException) -> str:
    """What the driver said, on one line: without SQLAlchemy's statement and link, and the
    hints psycopg2 puts on lines of their own ("\n\tIs the server running ...")."""
    return " ".join(str(getattr(error, "orig", None) or error).split())


def domain_error(error: BaseException) -> DomainError | None:
    """The domain's error for a database error: a taken email, or a store that cannot serve."""
    if isinstance(error, StatementError) and isinstance(error.orig, DomainError):
        # Raised while a statement ran: the revision check of a connection that replaced a
        # dead one, which SQLAlchemy wraps.
        return error.orig
    if isinstance(error, IntegrityError) and violates_email_key(error):
        return EmailAlreadyRegistered()
    if isinstance(error, DBAPIError):
        return _failed_statement(error)
    if isinstance(error, TimeoutError):  # no pooled connection came free in time
        return StoreUnavailable()
    return None


def _failed_statement(error: DBAPIError) -> DomainError | None:
    if is_deadlock(error):
        # Every unit that writes changes one user row in one statement, and besides only its
        # own idempotency key's record (a test pins it), so units can only wait on each other
        # in a cycle through email keys, each unit wanting the address another one holds:
        # whatever the order, that address is taken.
        return EmailAlreadyRegistered()
    if is_schema_mismatch(error):
        return SchemaNotCurrent()
    if is_unreachable(error) or is_read_only(error):
        return StoreUnavailable()
    return None


class _AsDomainErrors:
    """`with as_domain_errors:` raises, in place of a database error, the domain's if it has one.

    One stateless instance serves every thread: entering it allocates nothing.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None and (translated := domain_error(error)) is not None:
            raise translated from None


as_domain_errors = _AsDomainErrors()


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


def is_lock_not_available(error: DBAPIError) -> bool:
    """A statement gave up waiting for a lock (`lock_timeout`)."""
    return _sqlstate(error) == _LOCK_NOT_AVAILABLE


def is_unreachable(error: DBAPIError) -> bool:
    """The connection failed or was lost, a timeout cancelled the statement, or the SQLite
    file is not a database at all."""
    return (
        isinstance(error, OperationalError)
        or error.connection_invalidated
        or str(error.orig) == _NOT_A_SQLITE_DATABASE
    )


def is_read_only(error: DBAPIError) -> bool:
    """The database refuses writes for now: a standby, until it is promoted or the service is
    pointed at the new primary. (A missing privilege is no such state: it stays an error.)"""
    return _sqlstate(error) == _READ_ONLY


def is_schema_mismatch(error: DBAPIError) -> bool:
    """A table or column this build's statements name is not in the database."""
    if (sqlstate := _sqlstate(error)) is not None:
        return sqlstate in _SCHEMA_MISMATCHES
    return str(error.orig).startswith(_SQLITE_SCHEMA_MISMATCHES)


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "pgcode", None)
