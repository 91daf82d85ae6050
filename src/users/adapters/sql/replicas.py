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

from users import consistency
from users.adapters.sql.driver import WAL_POSITION
from users.adapters.sql.errors import one_line
from users.domain.ports import ReadFigures

LOOK_EVERY_SECONDS = 0.1
# A replica whose last look answered longer ago than this is not read: one that hangs (its
# connections open, nothing answered) stops getting reads within a second.
LOOK_OVERDUE_SECONDS = 1.0
# A replica whose connection broke under a read is not read again for this long, even if it
# answers the looks: the reads of one that fails each time would all pay for it.
REST_AFTER_FAILURE_SECONDS = 1.0
# How far behind a replica's lag is shown (`ReadFigures.lag_seconds`) before it is +Inf.
SHOWN_LAG_SECONDS = 60.0
# What a replica must be a copy of: the primary's cluster and database. A URL pasted wrong (a
# replica of another cluster, another database) has positions that mean nothing here.
_IDENTITY = "(SELECT system_identifier FROM pg_control_system()), current_database()"
_PRIMARY_POSITION = text(f"SELECT {WAL_POSITION}, {_IDENTITY}")
_REPLAYED = text(
    f"SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0')::bigint, {_IDENTITY}"
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
        self._kept_for = max(max_lag_seconds, SHOWN_LAG_SECONDS) + LOOK_EVERY_SECONDS
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
        self.current_as_of = -math.inf  # a monotonic time: every commit before it is here
        self.seen_at = -math.inf  # when a look last found it answering, in recovery
        self.rested_at = -math.inf  # no read before it
        self.reads = Tally()
        self.fallbacks = Tally()
        self._trouble: str | None = None

    def fit(self, must_see: int | None, now: float, lag_bound: float) -> bool:
        """Whether a read that must see `must_see` may be served here `now`."""
        return (
            now - self.seen_at <= LOOK_OVERDUE_SECONDS
            and now - self.current_as_of <= lag_bound
            and now >= self.rested_at
            and (must_see is None or self.replayed >= must_see)
        )

    def failed(self, error: BaseException, *, rest: bool) -> None:
        """A read here failed, and the primary serves it. With `rest` (the connection broke),
        no read comes here until a look sees the replica again, after a rest."""
        self.fallbacks.add()
        if rest:
            self.seen_at = -math.inf
            self.rested_at = time.monotonic() + REST_AFTER_FAILURE_SECONDS
            self._trouble_is(f"a read failed: {one_line(error)}")

    def seen(self, replayed: int, current_as_of: float) -> None:
        self.replayed = replayed
        self.current_as_of = current_as_of
        self.seen_at = time.monotonic()
        self._trouble_is(None)

    def unusable(self, why: str) -> None:
        self.seen_at = -math.inf
        self._trouble_is(why)

    def _trouble_is(self, trouble: str | None) -> None:
        """Say when the replica stops being used, and why, and when it is seen again."""
        if trouble == self._trouble:
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
        self._identity: tuple[int, str] | None = None

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
                    lag_seconds=now - r.current_as_of,  # +Inf: not seen, or over a minute
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
            until = time.monotonic() + LOOK_OVERDUE_SECONDS  # a hung look is left behind
            for thread in threads:
                thread.join(timeout=max(0, until - time.monotonic()))

    def _look_at_primary(self, stopped: threading.Event) -> None:
        while True:
            asked_at = time.monotonic()
            try:
                position, *identity = _ask(self._primary, _PRIMARY_POSITION)
            except Exception:  # no position, so no replica gets fresher; readiness says why
                position = None
            if position is not None:
                self._identity = (identity[0], identity[1])
                self._positions.note(position, asked_at)
            if stopped.wait(LOOK_EVERY_SECONDS):
                return

    def _look_at(self, replica: Replica, stopped: threading.Event) -> None:
        while True:
            try:
                in_recovery, replayed, *identity = _ask(replica.watch_engine, _REPLAYED)
            except Exception as error:  # whatever it is, the replica is not read
                replica.unusable(f"it does not answer: {one_line(error)}")
            else:
                if not in_recovery:
                    replica.unusable("it is not in recovery (promoted?)")
                elif replayed is None:
                    replica.unusable("it has replayed nothing yet")
                elif self._identity is not None and tuple(identity) != self._identity:
                    replica.unusable("it is not a copy of the primary's database")
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
