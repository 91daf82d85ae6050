"""Bounded waiting: every request has a deadline, and never waits past it for a worker."""

from collections.abc import Callable, Collection

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from users import deadline


class AdmissionMiddleware:
    """Starts each request's deadline, and lets at most `slots` requests work at once.

    `waiting(1)` and `waiting(-1)` are called as a request starts and stops waiting for a slot.
    A slot stands for a worker thread and a pooled connection (a worker has as many of each),
    so a request let in waits for neither, and its statements get what is left of its time
    (the SQL adapter sees to it). A request that gets no slot before its deadline is
    `turned_away` (the 503 of a database too slow to answer) at once: the wait is bounded
    however many pile up.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        slots: int,
        timeout_seconds: float,
        unbounded_paths: Collection[str],
        waiting: Callable[[float], None],
        turned_away: ASGIApp,
    ) -> None:
        self.app = app
        self._slots = anyio.Semaphore(slots)
        self._timeout = timeout_seconds
        # Paths that never wait for a worker: liveness, metrics.
        self._unbounded = frozenset(unbounded_paths)
        self._waiting = waiting
        self._turned_away = turned_away

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._unbounded:
            await self.app(scope, receive, send)
            return
        started = deadline.start(self._timeout)
        try:
            if not await self._admitted():
                await self._turned_away(scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self._slots.release()
        finally:
            deadline.end(started)

    async def _admitted(self) -> bool:
        try:
            self._slots.acquire_nowait()  # the usual case: no suspension, no timer
        except anyio.WouldBlock:
            self._waiting(1)
            try:
                with anyio.move_on_after(self._timeout):  # the deadline, just started
                    await self._slots.acquire()
                    return True
                return False
            finally:
                self._waiting(-1)
        return True
