"""Running the app under uvicorn, as production serves it: one process or several workers."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from users.entrypoints.server.logs import logging_config
from users.entrypoints.server.metrics import MULTIPROCESS_DIRECTORY


def serve(
    factory: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    logging: dict[str, Any] | None = None,
    timeout_graceful_shutdown: int | None = None,
    metrics: bool = False,
) -> None:
    """Serve the app that `factory` ("module:function") builds; with `metrics` and several
    workers, in a directory where each worker writes its metrics for any other to read."""
    with _metrics_shared_by(workers if metrics else 1):
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # uvloop and httptools, which uvicorn[standard] installs, when they import.
            loop="auto",
            http="auto",
            log_config=logging or logging_config(json_lines=False),
            # One line per request comes from the service itself, with its request id.
            access_log=False,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
        )


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, a directory where each writes its metrics for the others to read
    (unless the operator named one), removed after."""
    if workers == 1 or MULTIPROCESS_DIRECTORY in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="users-metrics-") as directory:
        os.environ[MULTIPROCESS_DIRECTORY] = directory  # the workers inherit it
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIRECTORY]
