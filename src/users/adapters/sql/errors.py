"""Database errors, translated into the domain's."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError

from users.adapters.sql.tables import EMAIL_KEY_CONSTRAINT
from users.domain.errors import EmailAlreadyRegistered, StoreUnavailable

_DEADLOCK_DETECTED = "40P01"


@contextmanager
def domain_errors() -> Iterator[None]:
    """Raise the domain's error for a taken email or an unreachable database; let others through."""
    try:
        yield
    except IntegrityError as error:
        if _violates_email_key(error):
            raise EmailAlreadyRegistered() from None
        raise
    except OperationalError as error:
        if getattr(error.orig, "pgcode", None) == _DEADLOCK_DETECTED:
            # Every unit of work here writes one row in one statement, so two can only wait on
            # each other through the email key: two users each taking the other's address.
            # Each address is taken; PostgreSQL aborted this one first.
            raise EmailAlreadyRegistered() from None
        raise StoreUnavailable(type(error).__name__) from None
    except TimeoutError as error:
        raise StoreUnavailable(type(error).__name__) from None
    except DBAPIError as error:
        if error.connection_invalidated:
            raise StoreUnavailable(type(error).__name__) from None
        raise


def _violates_email_key(error: IntegrityError) -> bool:
    diagnostics = getattr(error.orig, "diag", None)
    if diagnostics is not None:  # psycopg2 names the violated constraint
        return bool(diagnostics.constraint_name == EMAIL_KEY_CONSTRAINT)
    # SQLite only says which columns: "UNIQUE constraint failed: users.email_key".
    return str(error.orig) == "UNIQUE constraint failed: users.email_key"
