"""psycopg2 as the service drives it (`driver.py`), on PostgreSQL: every statement carries its
timeout, its share of what the request has left; a commit on a service with replicas notes the
WAL position a read must reach to see it. (What each costs in round trips: test_round_trips.)"""

from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql
from sqlalchemy import URL

from users import consistency, deadline
from users.adapters.sql.driver import (
    InlineBeginConnection,
    PositionedCommitConnection,
    cursor_within_deadline,
)

DEFAULT_SECONDS = 10.0
TIMEOUT = "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"


def connect(url: URL, factory: type[InlineBeginConnection], share: float = 1.0) -> Any:
    return psycopg2.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        connection_factory=factory,
        cursor_factory=cursor_within_deadline(DEFAULT_SECONDS, transactions=True, share=share),
    )


@pytest.fixture
def connection(database_url: URL) -> Iterator[Any]:
    connection = connect(database_url, InlineBeginConnection)
    yield connection
    connection.close()


def timeout_ms(connection: Any, query: str | bytes | sql.Composable = TIMEOUT) -> int:
    """The statement timeout `query` ran under, in milliseconds."""
    with connection.cursor() as cursor:
        cursor.execute(query)
        (milliseconds,) = cursor.fetchone()
    connection.rollback()
    return int(milliseconds)


@pytest.fixture
def seconds_left() -> Iterator[float]:
    """The test runs inside a request with 3 s left."""
    started = deadline.start(3.0)
    yield 3.0
    deadline.end(started)


def test_outside_a_request_a_statement_may_run_for_the_default(connection: Any) -> None:
    assert timeout_ms(connection) == DEFAULT_SECONDS * 1000


def test_in_a_request_a_statement_may_run_for_what_is_left_of_its_deadline(
    connection: Any, seconds_left: float
) -> None:
    assert seconds_left * 1000 - 500 < timeout_ms(connection) <= seconds_left * 1000


def test_on_a_replica_a_statement_gets_its_share_of_the_time(database_url: URL) -> None:
    on_replica = connect(database_url, InlineBeginConnection, share=0.5)
    try:
        outside_a_request = timeout_ms(on_replica)
        started = deadline.start(3.0)
        try:
            in_a_request = timeout_ms(on_replica)
        finally:
            deadline.end(started)
    finally:
        on_replica.close()

    assert outside_a_request == DEFAULT_SECONDS * 500
    assert 3.0 * 500 - 250 < in_a_request <= 3.0 * 500


def test_a_statement_past_its_deadline_is_cancelled_at_once_never_let_run(
    connection: Any,
) -> None:
    """Its timeout is a millisecond: zero would mean none at all."""
    started = deadline.start(-1.0)
    try:
        with pytest.raises(psycopg2.errors.QueryCanceled), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.1)")
    finally:
        deadline.end(started)
        connection.rollback()


def test_composed_and_already_bound_statements_carry_the_timeout_too(connection: Any) -> None:
    composed = sql.SQL("SELECT setting::int FROM pg_settings WHERE name = {}").format(
        sql.Literal("statement_timeout")
    )

    assert timeout_ms(connection, composed) == DEFAULT_SECONDS * 1000
    assert timeout_ms(connection, TIMEOUT.encode()) == DEFAULT_SECONDS * 1000


def test_a_transaction_opens_with_its_first_statement_and_ends_with_commit(
    connection: Any,
) -> None:
    """No `BEGIN` alone, a round trip of its own, as psycopg2 would send out of autocommit;
    and no `COMMIT` or `ROLLBACK` without a transaction to end."""
    connection.rollback()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        opened = connection.get_transaction_status()
    connection.commit()
    connection.commit()

    assert opened == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    assert connection.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert connection.notices == []  # PostgreSQL warns of a BEGIN or a COMMIT out of place


def test_a_commit_notes_the_position_a_read_must_reach_to_see_it(database_url: URL) -> None:
    positioned = connect(database_url, PositionedCommitConnection)
    consistency.read_after(None)
    try:
        with positioned.cursor() as cursor:
            cursor.execute("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint")
            (before,) = cursor.fetchone()
            cursor.execute("CREATE TEMPORARY TABLE noted (n int)")
            cursor.execute("INSERT INTO noted VALUES (1)")
        positioned.commit()

        assert consistency.must_see() is not None
        assert consistency.must_see() > before
        assert positioned.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    finally:
        consistency.read_after(None)
        positioned.close()
