"""Request ids, one access-log line per request, and unhandled errors logged once, not shown."""

import logging
import random
import re
import time
from collections.abc import Callable
from contextvars import ContextVar

from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from users.entrypoints.server.access_log import AccessLog
from users.entrypoints.server.drain import Drain

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_INTERNAL_ERROR = JSONResponse({"detail": "Internal Server Error"}, 500)

error_log = logging.getLogger("users.error")
# The id of the request this task or thread serves; the thread pool copies it into routes.
_serving: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    """The id of the request being served here, or "-" outside any."""
    return _serving.get()


class RequestContextMiddleware:
    """Gives every response an `X-Request-ID`, logs it (`access_log`) and counts it (`observe`);
    turns a crash into a bare 500. While the process drains, every response closes its
    connection, so that no client keeps one to a server about to stop listening."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        drain: Drain,
        access_log: AccessLog | None = None,
        observe: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self._drain = drain
        self._access_log = access_log
        self._observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id = _request_id(scope)
        request_id = raw_id.decode()
        serving = _serving.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: responses built once and sent again and again keep theirs.
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, raw_id)]
                if self._drain.draining:
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, once, with the request id; the caller sees no trace of it.
            error_log.exception("unhandled error", extra={"request_id": request_id})
            if not status:
                await _INTERNAL_ERROR(scope, receive, send_with_id)
        finally:
            self._account(scope, status, time.perf_counter() - started, request_id)
            _serving.reset(serving)

    def _account(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        """Count the request, and write its access line."""
        if self._observe is not None:
            self._observe(scope["method"], _route_template(scope), status, seconds)
        if self._access_log is not None:
            self._access_log.write(request_id, scope["method"], scope["path"], status, seconds)


def _route_template(scope: Scope) -> str:
    """The path of the route that served the request (`/users/{user_id}`), never the raw path:
    a label per raw path would be a new series for every id."""
    if (route := scope.get("route")) is None:  # answered before routing: find where it led
        route = next(
            (r for r in scope["app"].router.routes if r.matches(scope)[0] is not Match.NONE), None
        )
    return getattr(route, "path", "unmatched")


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _SANE_REQUEST_ID.fullmatch(value):
            return bytes(value)
    # An id tells requests apart; it guards nothing, so it need not come from the OS. Asking the
    # OS (os.urandom, uuid4) would let go of the GIL on the event loop, and getting it back from
    # the worker threads cost 40 µs of CPU a request (make bench).
    return b"%032x" % random.getrandbits(128)
