"""Which database errors become which of the domain's (`adapters/sql/errors.py`): what a
client gets for each, a 400, a 503 to retry, or a 500 for a bug, and what an operator reads in a
log. The driver's errors are built here as psycopg2 and sqlite3 raise them: no database."""

from types import SimpleNamespace

import pytest
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StatementError,
    TimeoutError,
)

from users.adapters.sql.errors import (
    SchemaNotCurrent,
    domain_error,
    is_lock_not_available,
    one_line,
)
from users.adapters.sql.tables import EMAIL_KEY_CONSTRAINT
from users.domain.errors import DomainError, EmailAlreadyRegistered, StoreUnavailable


class DriverError(Exception):
    """An error as a driver raises it: psycopg2's carry a SQLSTATE (`pgcode`) and, for a
    violated constraint, its name; sqlite3's only a message."""

    def __init__(
        self, message: str = "", pgcode: str | None = None, constraint: str | None = None
    ) -> None:
        super().__init__(message)
        if pgcode is not None:
            self.pgcode = pgcode
            self.diag = SimpleNamespace(constraint_name=constraint)


def failed(
    kind: type[DBAPIError], orig: Exception, *, connection_invalidated: bool = False
) -> DBAPIError:
    return kind("SELECT 1", {}, orig, connection_invalidated=connection_invalidated)


TAKEN = EmailAlreadyRegistered
UNAVAILABLE = StoreUnavailable


@pytest.mark.parametrize(
    ("error", "becomes"),
    [
        (failed(IntegrityError, DriverError("", "23505", EMAIL_KEY_CONSTRAINT)), TAKEN),
        (failed(IntegrityError, DriverError("UNIQUE constraint failed: users.email_key")), TAKEN),
        (failed(IntegrityError, DriverError("", "23505", "users_pkey")), None),
        (failed(IntegrityError, DriverError("UNIQUE constraint failed: users.id")), None),
        (failed(IntegrityError, DriverError("", "40P01")), TAKEN),  # a deadlock
        (failed(ProgrammingError, DriverError("", "42P01")), SchemaNotCurrent),
        (failed(ProgrammingError, DriverError("", "42703")), SchemaNotCurrent),
        (failed(OperationalError, DriverError("no such table: users")), SchemaNotCurrent),
        (failed(OperationalError, DriverError("no such column: version")), SchemaNotCurrent),
        (
            failed(OperationalError, DriverError("table users has no column named v")),
            SchemaNotCurrent,
        ),
        (failed(OperationalError, DriverError("server closed the connection")), UNAVAILABLE),
        (failed(DBAPIError, DriverError("gone"), connection_invalidated=True), UNAVAILABLE),
        (failed(DBAPIError, DriverError("file is not a database")), UNAVAILABLE),
        (failed(DBAPIError, DriverError("", "25006")), UNAVAILABLE),  # a standby
        (failed(ProgrammingError, DriverError("", "42501")), None),  # a missing privilege
        (failed(DBAPIError, DriverError("", "55P03")), None),  # a lock timeout: a bug here
        (failed(DBAPIError, DriverError("no such thing")), None),
        (TimeoutError("no pooled connection came free"), UNAVAILABLE),
        (ValueError("not a database error"), None),
    ],
)
def test_each_database_error_becomes_the_domains_own_or_stays_a_bug(
    error: Exception, becomes: type[DomainError] | None
) -> None:
    translated = domain_error(error)

    assert type(translated) is becomes if becomes else translated is None


def test_a_domain_error_raised_under_a_statement_comes_out_as_itself() -> None:
    """The revision check of a connection that replaced a dead one, which SQLAlchemy wraps."""
    refused = SchemaNotCurrent("at revision 0003")

    assert domain_error(StatementError("check", "SELECT 1", {}, refused)) is refused


def test_only_a_lock_timeout_is_a_lock_not_available() -> None:
    assert is_lock_not_available(failed(DBAPIError, DriverError("", "55P03")))
    assert not is_lock_not_available(failed(DBAPIError, DriverError("", "40P01")))
    assert not is_lock_not_available(failed(DBAPIError, DriverError("database is locked")))


def test_a_database_error_is_logged_as_the_drivers_words_on_one_line() -> None:
    orig = DriverError('connection to server failed\n\tIs the server running on "db"?\n')

    assert one_line(failed(OperationalError, orig)) == (
        'connection to server failed Is the server running on "db"?'
    )
    assert one_line(TimeoutError("QueuePool limit\nreached")) == "QueuePool limit reached"
