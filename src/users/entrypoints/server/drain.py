"""Stopping in the order a load balancer needs, and never outliving the supervising process."""

import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

log = logging.getLogger("users.lifecycle")


class Drain:
    """SIGTERM: readiness turns 503 at once while requests are still served for `drain_seconds`
    (a balancer checking readiness stops sending them), then the server's own graceful
    shutdown: it stops listening and lets requests in flight finish.

    A worker of `serve --workers N` also stops as soon as its supervisor is gone (killed
    with SIGKILL, say), so that no orphan keeps serving on the port.
    """

    def __init__(self, drain_seconds: float) -> None:
        self._drain_seconds = drain_seconds
        self.draining = False

    def take_over_sigterm(self) -> None:
        """Put the drain before the server's own SIGTERM handler (uvicorn's, installed first).

        Only a process's main thread handles signals: elsewhere (a test client) there is
        nothing to take over.
        """
        stop = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(stop):
            return

        def drain_then_stop(number: int, frame: FrameType | None) -> None:
            if self.draining:  # a second SIGTERM: no more waiting
                stop(number, frame)
                return
            self.draining = True
            log.info("SIGTERM: draining for %ss, then shutting down", self._drain_seconds)
            _after(self._drain_seconds, stop, number, None)

        signal.signal(signal.SIGTERM, drain_then_stop)
        if (supervisor := multiprocessing.parent_process()) is not None:
            _after_exit_of(supervisor, stop)


def _after(seconds: float, function: Any, *arguments: object) -> None:
    timer = threading.Timer(seconds, function, arguments)
    timer.daemon = True
    timer.start()


def _after_exit_of(supervisor: multiprocessing.process.BaseProcess, stop: Any) -> None:
    def watch() -> None:
        wait([supervisor.sentinel])  # readable once the supervisor's end of the pipe closes
        log.warning("the supervising process is gone: shutting down")
        stop(signal.SIGTERM, None)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
