"""Which copy a read goes to (`replicas.py`), decided from what was seen of the primary and its
replicas: no database, no threads."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from users import consistency
from users.adapters.sql.replicas import (
    LOOK_OVERDUE_SECONDS,
    SHOWN_LAG_SECONDS,
    PrimaryPositions,
    Replica,
    Replicas,
)

LAG_BOUND = 1.0


def replica(name: str) -> Replica:
    engine = create_engine("sqlite://")  # never connected: only chosen or not
    return Replica(name, engine, engine)


@pytest.fixture(autouse=True)
def _no_token() -> Iterator[None]:
    consistency.read_after(None)
    yield
    consistency.read_after(None)


def test_a_replica_is_as_current_as_the_latest_primary_position_it_has_replayed() -> None:
    positions = PrimaryPositions(LAG_BOUND)
    positions.note(100, asked_at=10.0)
    positions.note(200, asked_at=10.1)
    positions.note(200, asked_at=10.2)

    assert positions.current_as_of(99) == float("-inf")
    assert positions.current_as_of(100) == 10.0
    assert positions.current_as_of(199) == 10.0
    assert positions.current_as_of(200) == 10.2
    assert positions.current_as_of(10_000) == 10.2


def test_positions_are_kept_for_a_minute_to_show_a_lag_longer_than_the_bound() -> None:
    positions = PrimaryPositions(LAG_BOUND)
    positions.note(100, asked_at=10.0)
    positions.note(200, asked_at=12.0)
    kept = positions.current_as_of(150)

    positions.note(300, asked_at=10.0 + SHOWN_LAG_SECONDS + 1)

    assert kept == 10.0
    assert positions.current_as_of(150) == float("-inf")


def test_a_read_without_a_token_goes_to_a_replica_within_the_lag_bound_only() -> None:
    recent, behind, silent = replica("recent"), replica("behind"), replica("silent")
    now = time.monotonic()
    recent.seen(100, current_as_of=now - LAG_BOUND / 2)
    behind.seen(100, current_as_of=now - LAG_BOUND * 2)
    replicas = Replicas([recent, behind, silent], recent.engine, LAG_BOUND)

    assert {replicas.choose() for _ in range(4)} == {recent}


def test_a_read_that_must_see_a_position_goes_only_to_a_replica_past_it() -> None:
    past, short = replica("past"), replica("short")
    now = time.monotonic()
    past.seen(500, current_as_of=now)
    short.seen(499, current_as_of=now)
    replicas = Replicas([past, short], past.engine, LAG_BOUND)

    consistency.read_after(500)
    chosen = {replicas.choose() for _ in range(4)}
    consistency.committed(501)

    assert chosen == {past}
    assert replicas.choose() is None  # the primary


def test_fit_replicas_take_reads_in_turns() -> None:
    one, two = replica("one"), replica("two")
    for each in (one, two):
        each.seen(100, current_as_of=time.monotonic())
    replicas = Replicas([one, two], one.engine, LAG_BOUND)

    chosen = [replicas.choose() for _ in range(4)]

    assert chosen.count(one) == chosen.count(two) == 2


def test_a_replica_that_failed_a_read_is_not_chosen_until_seen_again() -> None:
    flaky = replica("flaky")
    flaky.seen(100, current_as_of=time.monotonic())
    replicas = Replicas([flaky], flaky.engine, LAG_BOUND)

    flaky.failed(ConnectionError("gone"), rest=True)
    after_failure = replicas.choose()
    flaky.seen(100, current_as_of=time.monotonic())
    seen_again = replicas.choose()
    flaky.rested_at = time.monotonic()

    assert (after_failure, seen_again) == (None, None)  # still resting
    assert replicas.choose() is flaky
    assert flaky.fallbacks.count == 1


def test_a_commit_moves_what_reads_must_see_forward_only() -> None:
    consistency.read_after(300)

    consistency.committed(200)
    kept = consistency.must_see()
    consistency.committed(400)

    assert (kept, consistency.must_see()) == (300, 400)
    assert consistency.token(400) == "0000000000000190"
    assert consistency.position("0000000000000190") == 400


def test_a_read_cut_short_on_a_replica_does_not_rest_it() -> None:
    busy = replica("busy")
    busy.seen(100, current_as_of=time.monotonic())
    replicas = Replicas([busy], busy.engine, LAG_BOUND)

    busy.failed(TimeoutError("canceling statement due to statement timeout"), rest=False)

    assert replicas.choose() is busy
    assert busy.fallbacks.count == 1


def test_a_replica_whose_look_is_overdue_is_not_read() -> None:
    hung = replica("hung")
    hung.seen(100, current_as_of=time.monotonic())
    replicas = Replicas([hung], hung.engine, LAG_BOUND)
    chosen = replicas.choose()

    hung.seen_at -= LOOK_OVERDUE_SECONDS + 0.1  # its look has not come back since

    assert chosen is hung
    assert replicas.choose() is None
