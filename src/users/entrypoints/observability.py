"""Request ids, one access-log line per request, and unhandled errors logged once, not shown."""

import json
import logging
import random
import re
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from users.entrypoints.lifecycle import Lifecycle

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "request_id")

access_log = logging.getLogger("users.access")
error_log = logging.getLogger("users.error")
# The id of the request this task or thread serves; the thread pool copies it into routes.
_serving: ContextVar[str] = ContextVar("request_id", default="-")


class RequestContextMiddleware:
    """Gives every response an `X-Request-ID`, logs it and counts it (`observe`); turns a crash
    into a bare 500. While the process drains, every response closes its connection, so that
    no client keeps one to a server about to stop listening."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifecycle: Lifecycle,
        observe: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self._lifecycle = lifecycle
        self._observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        fields: dict[str, Any] = {"request_id": request_id.decode()}
        serving = _serving.set(fields["request_id"])
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
                if self._lifecycle.draining:
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, once, with the request id; the caller sees no trace of it.
            error_log.exception("unhandled error", extra=fields)
            if not status:
                await JSONResponse({"detail": "Internal Server Error"}, 500)(
                    scope, receive, send_with_id
                )
        finally:
            seconds = time.perf_counter() - started
            if self._observe is not None:
                self._observe(scope["method"], _route_template(scope), status, seconds)
            fields |= {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            }
            access_log.info(
                "%(method)s %(path)s %(status)d %(duration_ms)sms", fields, extra=fields
            )
            _serving.reset(serving)


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


class RequestIdFilter(logging.Filter):
    """Stamps every line with the id of the request being served when it was written, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _serving.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {
            field: getattr(record, field) for field in _ACCESS_FIELDS if hasattr(record, field)
        }
        if line.get("request_id") == "-":
            del line["request_id"]
        if record.exc_info:
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(line, default=str)


def logging_config(*, json_lines: bool, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn, as text or JSON lines."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {"default": handler},
        # Every library's warnings and errors (SQLAlchemy's pool, say) in the same format.
        "root": {"handlers": ["default"], "level": "WARNING"},
        "loggers": {
            "users": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
