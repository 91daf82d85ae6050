"""Read replicas: which copy of the database a read goes to, and what the service knows of each.

A read goes to a replica that has replayed the position it must see (`consistency`) and is no
staler than the lag bound, else to the primary. Threads look at the primary's WAL position and
at what each replica has replayed every `LOOK_EVERY_SECONDS`. A replica that has replayed the
position the primary had at time t holds every commit made before t: it is at most `now - t`
stale, a bound that keeps growing while the replica is not seen again (down, or too slow to
answer), so that it drops out by itself.
"""

import bisect
import itertools
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from users import consistency
from users.adapters.sql.driver import WAL_POSITION
from users.adapters.sql.errors import one_line
from users.domain.errors import StoreUnavailable
from users.domain.ports import ReadFigures

LOOK_EVERY_SECONDS = 0.1
# A replica that failed a read (a timeout, say) is not read again for this long, even if it
# answers the looks: a slow replica would otherwise cost a read every look.
REST_AFTER_FAILURE_SECONDS = 1.0
# A WAL position as a number, and the cluster it belongs to: a replica of another cluster (a
# URL pasted wrong) has positions that mean nothing here.
_PRIMARY_POSITION = text(
    f"SELECT {WAL_POSITION}, (SELECT system_identifier FROM pg_control_system())"  # noqa: S608
)
_REPLAYED = text(
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0')::bigint, "
    "(SELECT system_identifier FROM pg_control_system())"
)

log = logging.getLogger("users.replicas")


class Tally:
    """A count that request threads add to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


class PrimaryPositions:
    """The WAL positions the primary was seen at, and when each was asked for, for as long as a
    replica behind them could still be read."""

    def __init__(self, max_lag_seconds: float) -> None:
        self._kept_for = max_lag_seconds + LOOK_EVERY_SECONDS
        self._seen: list[tuple[int, float]] = []
        self._lock = threading.Lock()

    def note(self, position: int, asked_at: float) -> None:
        """The primary was at `position` or past it when answering a question asked at
        `asked_at` (a monotonic time): every commit made before then is at or before it."""
        with self._lock:
            self._seen.append((position, asked_at))
            too_old = asked_at - self._kept_for
            del self._seen[: bisect.bisect_left(self._seen, too_old, key=_asked_at)]

    def current_as_of(self, replayed: int) -> float:
        """When the primary was last seen at a position that `replayed` is at or past: a
        replica that has replayed it holds every commit made before then."""
        with self._lock:
            index = bisect.bisect_right(self._seen, replayed, key=_position)
            return self._seen[index - 1][1] if index else -math.inf


class Replica:
    """One replica: its pool, what was last seen of it, and the reads it served."""

    def __init__(self, name: str, engine: Engine, watch_engine: Engine) -> None:
        self.name = name
        self.engine = engine
        self.watch_engine = watch_engine
        self.replayed = -1
        self.current_as_of = -math.inf  # monotonic time before which every commit is here
        self.answering = False
        self.rested_at = -math.inf  # a monotonic time: no read before it
        self.reads = Tally()
        self.fallbacks = Tally()
        self._trouble: str | None = "not seen yet"

    def fit(self, must_see: int | None, now: float, lag_bound: float) -> bool:
        """Whether a read that must see `must_see` may be served here `now`."""
        return (
            self.answering
            and now - self.current_as_of <= lag_bound
            and now >= self.rested_at
            and (must_see is None or self.replayed >= must_see)
        )

    def failed(self, error: BaseException) -> None:
        """A read here failed: no read comes here until the replica is seen answering again,
        and has rested."""
        self.answering = False
        self.rested_at = time.monotonic() + REST_AFTER_FAILURE_SECONDS
        self.fallbacks.add()
        self._trouble_is(f"a read failed: {one_line(error)}")

    def seen(self, replayed: int, current_as_of: float) -> None:
        self.replayed = replayed
        self.current_as_of = current_as_of
        self.answering = True
        self._trouble_is(None)

    def unusable(self, why: str) -> None:
        self.answering = False
        self._trouble_is(why)

    def _trouble_is(self, trouble: str | None) -> None:
        """Say when the replica stops being used, and when it is used again; once each."""
        if (trouble is None) == (self._trouble is None):
            return
        if trouble is None:
            log.warning("replica %s answers again: reads may go to it", self.name)
        else:
            log.warning("replica %s is not used, reads go to the primary: %s", self.name, trouble)
        self._trouble = trouble


class Replicas:
    """The replicas reads may go to, no staler than `max_lag_seconds`, and what is seen of them.

    Nothing is seen, so every read goes to the primary, unless inside `watching()`.
    """

    def __init__(
        self, replicas: Sequence[Replica], primary: Engine, max_lag_seconds: float
    ) -> None:
        self._replicas = replicas
        self._primary = primary
        self._max_lag = max_lag_seconds
        self.primary_reads = Tally()
        self._turn = itertools.count()
        self._positions = PrimaryPositions(max_lag_seconds)
        self._cluster: int | None = None

    def choose(self) -> Replica | None:
        """A replica fit for a read here now, in turns; `None`: read the primary."""
        must_see, now = consistency.must_see(), time.monotonic()
        fit = [replica for replica in self._replicas if replica.fit(must_see, now, self._max_lag)]
        return fit[next(self._turn) % len(fit)] if fit else None

    def figures(self) -> list[ReadFigures]:
        now = time.monotonic()
        return [
            ReadFigures("primary", self.primary_reads.count),
            *(
                ReadFigures(
                    r.name,
                    r.reads.count,
                    r.fallbacks.count,
                    lag_seconds=now - r.current_as_of,
                    usable=r.fit(None, now, self._max_lag),
                )
                for r in self._replicas
            ),
        ]

    def request_engines(self) -> list[Engine]:
        """The replicas' pools that reads take connections from."""
        return [replica.engine for replica in self._replicas]

    def engines(self) -> Iterator[Engine]:
        """Every engine of theirs, the looks' included."""
        yield from self.request_engines()
        yield from (replica.watch_engine for replica in self._replicas)
        yield self._primary

    @contextmanager
    def watching(self) -> Iterator[None]:
        """While in it, threads look at the primary and at every replica."""
        stopped = threading.Event()
        threads = [
            threading.Thread(target=self._look_at_primary, args=(stopped,), daemon=True),
            *(
                threading.Thread(target=self._look_at, args=(replica, stopped), daemon=True)
                for replica in self._replicas
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stopped.set()
            for thread in threads:
                thread.join(timeout=5)

    def _look_at_primary(self, stopped: threading.Event) -> None:
        while True:
            asked_at = time.monotonic()
            try:
                position, self._cluster = _ask(self._primary, _PRIMARY_POSITION)
            except (SQLAlchemyError, StoreUnavailable):
                position = None  # no position, no replica gets fresher: the primary's check says
            if position is not None:
                self._positions.note(position, asked_at)
            if stopped.wait(LOOK_EVERY_SECONDS):
                return

    def _look_at(self, replica: Replica, stopped: threading.Event) -> None:
        while True:
            try:
                in_recovery, replayed, cluster = _ask(replica.watch_engine, _REPLAYED)
            except (SQLAlchemyError, StoreUnavailable) as error:
                replica.unusable(f"it does not answer: {one_line(error)}")
            else:
                if not in_recovery:
                    replica.unusable("it is not in recovery (promoted?)")
                elif replayed is None:
                    replica.unusable("it has replayed nothing yet")
                elif self._cluster is not None and cluster != self._cluster:
                    replica.unusable("it is a copy of another cluster than the primary")
                else:
                    replica.seen(replayed, self._positions.current_as_of(replayed))
            if stopped.wait(LOOK_EVERY_SECONDS):
                return


def _position(kept: tuple[int, float]) -> int:
    return kept[0]


def _asked_at(kept: tuple[int, float]) -> float:
    return kept[1]


def _ask(engine: Engine, query: Any) -> tuple[Any, ...]:
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())
