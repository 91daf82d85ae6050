"""Stopping in the order a load balancer needs, and never outliving the supervising process."""

import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

log = logging.getLogger("users.lifecycle")


# uvicorn's supervisor (`serve --workers N`) looks at the signals it got every 0.5 s and passes
# SIGTERM on to every worker: a worker that got SIGTERM sent to the whole process group gets
# the supervisor's copy up to half a second later (later still if the supervisor is busy with a
# worker slow to answer its ping). Four times that.
RELAY_SECONDS = 2.0


class Drain:
    """SIGTERM: readiness turns 503 at once while requests are still served for `drain_seconds`
    (a balancer checking readiness stops sending them), then the server's own graceful
    shutdown: it stops listening and lets requests in flight finish. A second SIGTERM ends the
    drain at once.

    A worker of `serve --workers N` gets SIGTERM twice for one stop when it went to the whole
    process group (systemd's KillMode=control-group, say): from the sender, then from the
    supervisor, which passes it on to every worker. A Python handler is not told who sent a
    signal (`sigwaitinfo` would tell, but only with SIGTERM blocked in every thread, and uvicorn
    starts its ping thread before the app could block it), so the one SIGTERM that follows the
    first within RELAY_SECONDS is taken as that copy. Its limit: an operator's second SIGTERM
    sent that soon is taken for the copy too (send it again later); a copy later than that (a
    supervisor stalled for seconds) ends the drain early. A single process has no supervisor:
    any second SIGTERM ends its drain.

    A worker also stops as soon as its supervisor is gone (killed with SIGKILL, say), so that no
    orphan keeps serving on the port.
    """

    def __init__(self, drain_seconds: float) -> None:
        self._drain_seconds = drain_seconds
        self.draining = False
        self._copy_due_until = 0.0  # time.monotonic() until which the supervisor's copy may come

    def take_over_sigterm(self) -> None:
        """Put the drain before the server's own SIGTERM handler (uvicorn's, installed first).

        Only a process's main thread handles signals: elsewhere (a test client) there is
        nothing to take over.
        """
        stop = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(stop):
            return
        supervisor = multiprocessing.parent_process()

        def drain_then_stop(number: int, frame: FrameType | None) -> None:
            if not self.draining:
                self._start(stop, number, supervised=supervisor is not None)
            elif self._is_the_supervisors_copy():
                log.info("SIGTERM again: the supervisor passing the same stop on; still draining")
            else:  # an operator's second SIGTERM: no more waiting
                stop(number, frame)

        signal.signal(signal.SIGTERM, drain_then_stop)
        if supervisor is not None:
            _after_exit_of(supervisor, stop)

    def _start(self, stop: Any, number: int, *, supervised: bool) -> None:
        self.draining = True
        if supervised:
            self._copy_due_until = time.monotonic() + RELAY_SECONDS
        log.info("SIGTERM: draining for %ss, then shutting down", self._drain_seconds)
        _after(self._drain_seconds, stop, number, None)

    def _is_the_supervisors_copy(self) -> bool:
        """The supervisor passes SIGTERM on once, soon after the first: one SIGTERM, in time."""
        due, self._copy_due_until = self._copy_due_until, 0.0
        return time.monotonic() < due


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
