"""Adopting the replaced app's `users(id, name, email)` table, every id kept.

Its rows are checked by the domain's own rules before anything changes; then the table is
dropped, this service's schema is created by its migrations, and the rows are written back,
normalized and keyed as the service itself would have stored them.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Integer, String, insert, inspect, text
from sqlalchemy.exc import OperationalError

from users.adapters.sql.refusals import MigrationRefused, Offence, RowsRefused, same_address
from users.adapters.sql.tables import users_table
from users.domain.errors import InvalidUserData
from users.domain.model import MAX_USER_ID, Email, parse_name

_LEGACY_COLUMNS = {"id": Integer, "name": String, "email": String}
_LOCK_NOT_AVAILABLE = "55P03"
# How long adoption waits for the old app's transactions to let go of its table.
LOCK_WAIT = "5s"
T = TypeVar("T")


class ForeignSchema(MigrationRefused):
    """A `users` table that is neither this service's nor the replaced app's."""


class TableInUse(MigrationRefused):
    """Another client (the old app, still running) holds the replaced app's table."""


@dataclass(frozen=True, slots=True)
class LegacyUsers:
    """The replaced app's users, checked and normalized, and the highest id it handed out."""

    rows: list[dict[str, Any]]
    highest_id: int


def find_legacy_table(connection: Connection) -> bool:
    """Whether the database has the replaced app's table (and no schema revision of this
    service's); raise `ForeignSchema` for a `users` table of any other shape."""
    inspector = inspect(connection)
    if not inspector.has_table("users"):
        return False
    columns = {column["name"]: column["type"] for column in inspector.get_columns("users")}
    key = inspector.get_pk_constraint("users")["constrained_columns"]
    if key == ["id"] and _has_legacy_columns(columns):
        return True
    found = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    raise ForeignSchema(
        f"found a table users({found}) with no schema revision of this service's, and not the "
        "replaced app's users(id integer primary key, name varchar, email varchar); "
        "nothing was changed"
    )


def take_out_legacy_users(connection: Connection, adopted_at: datetime) -> LegacyUsers:
    """Check every row of the replaced app's table and drop the table, keeping its users;
    raise `RowsRefused`, before any change, if a row breaks a rule of the service."""
    if connection.dialect.name == "postgresql":
        _lock_out_the_old_app(connection)
    stored = connection.execute(text("SELECT id, name, email FROM users ORDER BY id")).all()
    rows, offences = _checked(stored, adopted_at)
    if offences:
        raise RowsRefused(
            "cannot adopt the replaced app's users table",
            offences,
            "Fix or delete these rows, then run `users-api migrate` again.",
        )
    highest_id = max([_last_id_handed_out(connection), *(row["id"] for row in rows)])
    connection.execute(text("DROP TABLE users"))
    return LegacyUsers(rows, highest_id)


def _lock_out_the_old_app(connection: Connection) -> None:
    # The old app, if still running, can neither write nor read half a takeover; nor can it
    # keep the migration (and every service starting behind it) waiting for long.
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    try:
        connection.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
    except OperationalError as error:
        if getattr(error.orig, "pgcode", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise TableInUse(
            f"another client held the replaced app's users table for {LOCK_WAIT}: stop the "
            "old app for good, then run `users-api migrate` again; nothing was changed"
        ) from None


def put_back(connection: Connection, legacy: LegacyUsers) -> None:
    """Write the adopted users into this service's (just created) table; ids go on after theirs."""
    if legacy.rows:
        connection.execute(insert(users_table), legacy.rows)
    if connection.dialect.name == "postgresql" and legacy.highest_id:
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('users', 'id'), :highest)"),
            {"highest": legacy.highest_id},
        )
    # SQLite's AUTOINCREMENT already goes on after the highest id written.


def _has_legacy_columns(columns: dict[str, Any]) -> bool:
    return columns.keys() == _LEGACY_COLUMNS.keys() and all(
        isinstance(columns[name], kind) for name, kind in _LEGACY_COLUMNS.items()
    )


def _checked(
    stored: Sequence[Any], adopted_at: datetime
) -> tuple[list[dict[str, Any]], list[Offence]]:
    """The rows as this service stores them, and every row that breaks one of its rules."""
    rows: list[dict[str, Any]] = []
    problems: defaultdict[int, list[str]] = defaultdict(list)
    keyed: list[tuple[int, object, str]] = []
    for user_id, name, email in stored:
        address = _parsed(Email.parse, email, "address", problems[user_id])
        checked_name = _parsed(parse_name, name, "name", problems[user_id])
        if not 1 <= user_id <= MAX_USER_ID:
            problems[user_id].append("the id is not a positive integer")
        if address is not None:
            keyed.append((user_id, email, address.key))
        if address is not None and checked_name is not None:
            rows.append(_row(user_id, checked_name, address, adopted_at))
    for offence in same_address(keyed):
        problems[offence.user_id].append(offence.problem)
    emails = {user_id: email for user_id, _, email in stored}
    offences = [Offence(i, emails[i], "; ".join(found)) for i, found in problems.items() if found]
    return rows, sorted(offences, key=lambda offence: offence.user_id)


def _parsed(parse: Callable[[str], T], value: object, what: str, problems: list[str]) -> T | None:
    if not isinstance(value, str):
        problems.append(f"the {what} is not text")
        return None
    try:
        return parse(value)
    except InvalidUserData as error:
        problems.append(f"the {what} is refused: {error}")
        return None


def _row(user_id: int, name: str, email: Email, adopted_at: datetime) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "email": email.address,
        "email_key": email.key,
        "created_at": adopted_at,
        "updated_at": adopted_at,
    }


def _last_id_handed_out(connection: Connection) -> int:
    """The legacy sequence may have gone past the highest id left (its last users deleted)."""
    if connection.dialect.name != "postgresql":
        return 0
    last = connection.execute(
        text("SELECT pg_sequence_last_value(pg_get_serial_sequence('users', 'id'))")
    ).scalar()
    return int(last or 0)
