"""Read-your-writes: the point in the store's history that the reads of the work being served
must see. The entrypoint sets it from the token a client sent back; each commit moves it to
what was just written, and the entrypoint sends that back as the write's token.

A context variable, like the deadline: the thread a route runs in has its request's own.
Positions are the store's (PostgreSQL's WAL positions); a client sees them only as tokens.
"""

from contextvars import ContextVar

TOKEN_PATTERN = "^[0-9a-f]{16}$"  # noqa: S105 (not a secret: a position)
"""What a token looks like: a position as 16 lower-case hex digits, opaque to clients."""

_must_see: ContextVar[int | None] = ContextVar("must_see", default=None)


def read_after(position: int | None) -> None:
    """Reads from here on must see the store at least as it was at `position` (None: any
    copy fresh enough for reads without a token will do)."""
    _must_see.set(position)


def committed(position: int) -> None:
    """A commit was made at `position`: reads from here on must see it."""
    if (seen := _must_see.get()) is None or position > seen:
        _must_see.set(position)


def must_see() -> int | None:
    """The position reads must see, if any."""
    return _must_see.get()


def token(position: int) -> str:
    """`position` as a client carries it."""
    return f"{position:016x}"


def position(token: str) -> int:
    """The position a token (one that matches `TOKEN_PATTERN`) names."""
    return int(token, 16)
