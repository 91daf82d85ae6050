"""The time the request being served has left: the entrypoint sets it, the adapters keep to it.

A context variable, so that the thread a route runs in sees its own request's deadline.
"""

import time
from contextvars import ContextVar, Token

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


def start(seconds: float) -> Token[float | None]:
    """Give the work from here on `seconds` to finish; `end()` with the token after it."""
    return _deadline.set(time.monotonic() + seconds)


def end(started: Token[float | None]) -> None:
    _deadline.reset(started)


def seconds_left() -> float | None:
    """What is left of the current deadline (negative once passed), or None outside one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
