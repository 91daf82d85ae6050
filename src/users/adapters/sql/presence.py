"""Which builds serve on the database: each serving process keeps a row of `serving_builds`
fresh, so that `migrate --contract` can see a build that still needs what it would remove."""

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import SQLAlchemyError

from users.adapters.clock import system_clock
from users.adapters.sql.tables import serving_builds
from users.domain.errors import StoreUnavailable

# A serving process refreshes its row this often; after three missed, it counts as gone.
PRESENCE_INTERVAL = timedelta(seconds=5)
PRESENCE_EXPIRY = 3 * PRESENCE_INTERVAL

log = logging.getLogger("users.presence")


@contextmanager
def present(engine: Engine, build: str) -> Iterator[None]:
    """While in it, this process's row says it serves `build`; removed on the way out, and
    `engine` disposed of."""
    instance = f"{socket.gethostname()} pid {os.getpid()}"
    stopped = threading.Event()

    def refresh() -> None:
        while True:
            _write(engine, instance, build)
            if stopped.wait(PRESENCE_INTERVAL.total_seconds()):
                return

    thread = threading.Thread(target=refresh, name="presence", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=1)
        if not thread.is_alive():  # else the database does not answer: the row expires
            _write(engine, instance, None)
        engine.dispose()


def _write(engine: Engine, instance: str, build: str | None) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(delete(serving_builds).where(serving_builds.c.instance == instance))
            if build is not None:
                connection.execute(
                    insert(serving_builds),
                    {"instance": instance, "build": build, "seen_at": system_clock()},
                )
    except (SQLAlchemyError, StoreUnavailable) as error:
        # Not serving either, then: the database is down, or at a schema this build refuses.
        log.debug("cannot record that this process serves: %s", error)
