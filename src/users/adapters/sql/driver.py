"""psycopg2 as the service drives it: a statement timeout sent with every statement, a write's
`BEGIN` sent with its first statement, and its commit's WAL position asked with its `COMMIT`.
Each rides in a query string the service sends anyway, so none costs a round trip."""

from typing import Any

import psycopg2.extensions
from psycopg2.sql import Composable

from users import consistency, deadline

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
WAL_POSITION = (
    "CASE WHEN pg_is_in_recovery() THEN NULL ELSE (pg_current_wal_insert_lsn() - '0/0')::bigint END"
)
"""The primary's WAL position now, as a number: past every commit made so far. None on a
standby (after a failover, say), where a read-only transaction still commits."""
_COMMIT_AT = f"COMMIT; SELECT {WAL_POSITION}"  # one round trip


class InlineBeginConnection(psycopg2.extensions.connection):
    """A connection whose transactions cost one round trip fewer than psycopg2's own.

    Out of autocommit, psycopg2 sends `BEGIN` alone, a round trip before a transaction's first
    statement. This connection is in autocommit, and its cursor (below) sends `BEGIN` in the
    same query string as the first statement whenever no transaction is open, as psycopg2
    would have; `commit()` and `rollback()` send `COMMIT` and `ROLLBACK` when one is (in
    autocommit psycopg2's own do nothing). A registration: two round trips, not three.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.autocommit = True

    def commit(self) -> None:
        self._end_transaction("COMMIT")

    def rollback(self) -> None:
        self._end_transaction("ROLLBACK")

    def _end_transaction(self, command: str) -> list[tuple[Any, ...]]:
        """Send `command` if a transaction is open; the rows its query string returns."""
        if self.closed or self.get_transaction_status() == _IDLE:
            return []
        with psycopg2.extensions.cursor(self) as cursor:  # no deadline prefix: it ends one
            cursor.execute(command)
            return cursor.fetchall() if cursor.description else []


class PositionedCommitConnection(InlineBeginConnection):
    """An `InlineBeginConnection` that notes the WAL position past each commit, where a read
    must be to see it (`consistency`): for a service that reads from replicas.

    The position is asked in the `COMMIT`'s own query string, at no round trip.
    """

    def commit(self) -> None:
        for (position,) in self._end_transaction(_COMMIT_AT):
            if position is not None:
                consistency.committed(position)


def cursor_within_deadline(
    default_seconds: float, *, transactions: bool, share: float
) -> type[psycopg2.extensions.cursor]:
    """A cursor whose every statement may run for `share` of what is left of its request's
    deadline (or of `default_seconds` outside a request), and
    (with `transactions`, on an `InlineBeginConnection`) opens a transaction if none is open.

    The timeout is sent with the statement, in the same query string, so it costs no round
    trip and holds through PgBouncer's transaction pooling, where a setting made at connect
    time (a startup `options`, a session `SET`) would not reach the next transaction's server.
    A cursor, not a SQLAlchemy event: any engine event puts every connection, transaction and
    statement on SQLAlchemy's event path, which cost 10 % of a read's instructions (callgrind).
    """

    class CursorWithinDeadline(psycopg2.extensions.cursor):
        def execute(self, query: str | bytes | Composable, vars: Any = None) -> None:
            if isinstance(query, Composable):
                query = query.as_string(self)
            left = deadline.seconds_left()
            # Zero would mean no timeout at all: a deadline already passed gets a millisecond.
            seconds = default_seconds if left is None else left
            milliseconds = max(1, int(seconds * share * 1000))
            prefix = f"SET LOCAL statement_timeout = {milliseconds}; "
            if self._opens_transaction():
                prefix = "BEGIN; " + prefix
            # psycopg2's batch helpers pass statements they have already bound, as bytes.
            super().execute(
                prefix.encode() + query if isinstance(query, bytes) else prefix + query, vars
            )

        def executemany(self, query: str | bytes | Composable, vars_list: Any) -> None:
            # psycopg2 runs these statements in C, past `execute` above: no `BEGIN` would
            # ride with them, so a transaction is opened first, at the cost of a round trip.
            if self._opens_transaction():
                super().execute("BEGIN")
            super().executemany(query, vars_list)

        def _opens_transaction(self) -> bool:
            return transactions and self.connection.get_transaction_status() == _IDLE

    return CursorWithinDeadline
