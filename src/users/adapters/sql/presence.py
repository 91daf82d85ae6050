"""Which builds serve on the database: each serving process keeps a row of `serving_builds`
fresh, so that `migrate --contract` can see a build that still needs what it would remove."""

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, delete, func, insert
from sqlalchemy.exc import SQLAlchemyError

from users.adapters.sql.errors import one_line
from users.adapters.sql.tables import serving_builds
from users.domain.errors import StoreUnavailable

# A serving process refreshes its row this often; after three missed, it counts as gone.
PRESENCE_INTERVAL = timedelta(seconds=5)
PRESENCE_EXPIRY = 3 * PRESENCE_INTERVAL

log = logging.getLogger("users.presence")


@contextmanager
def present(engine: Engine, build: str) -> Iterator[None]:
    """While in it, this process's row says it serves `build`: written before it is entered,
    removed on the way out, and `engine` disposed of."""
    row = _Row(engine, f"{socket.gethostname()} pid {os.getpid()}")
    stopped = threading.Event()

    def refresh() -> None:
        while not stopped.wait(PRESENCE_INTERVAL.total_seconds()):
            row.write(build)

    row.write(build)  # before the first request: a contract step started now sees it
    thread = threading.Thread(target=refresh, name="presence", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=1)
        if not thread.is_alive():  # else the database does not answer: the row expires
            row.write(None)
        engine.dispose()


class _Row:
    """This process's row; a failure to write it is said once, and so is the recovery."""

    def __init__(self, engine: Engine, instance: str) -> None:
        self._engine = engine
        self._instance = instance
        self._failing = False

    def write(self, build: str | None) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    delete(serving_builds).where(serving_builds.c.instance == self._instance)
                )
                if build is not None:
                    # The database's clock, the one `migrate --contract` reads rows by: hosts'
                    # clocks may differ.
                    connection.execute(
                        insert(serving_builds).values(seen_at=func.now()),
                        {"instance": self._instance, "build": build},
                    )
        except (SQLAlchemyError, StoreUnavailable) as error:
            # The database is down, or at a schema this build refuses (it does not serve then).
            if not self._failing:
                log.warning(
                    "cannot record that this process serves (migrate --contract will not see "
                    "it once its row is %d s old): %s",
                    PRESENCE_EXPIRY.seconds,
                    one_line(error),
                )
            self._failing = True
        else:
            if self._failing:
                log.warning("recording that this process serves again")
            self._failing = False
