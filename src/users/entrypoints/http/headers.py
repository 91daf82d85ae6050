"""The request headers the user routes read themselves, each declared once: its name, what it
means, and what it may hold.

A seam for speed: FastAPI 0.165 works out a `Header()` parameter's model, aliases and validator
again on every request, about 80,000 instructions a header; two of them made a read 13 % dearer
(`make bench-instructions`). Read here, a header costs a look-up in the ASGI scope, and the
OpenAPI document declares it as `Header()` would; a malformed value gets FastAPI's own 422.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from users import consistency
from users.domain.idempotency import KEY_PATTERN


@dataclass(frozen=True, eq=False)
class RequestHeader:
    """A request header a route reads; `pattern`, if given, is what a value must match."""

    name: str
    description: str
    pattern: str | None = None
    _raw_name: bytes = field(init=False, repr=False)
    _valid: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Servers hand the ASGI app header names in lower case.
        object.__setattr__(self, "_raw_name", self.name.lower().encode("latin-1"))
        object.__setattr__(
            self, "_valid", None if self.pattern is None else re.compile(self.pattern)
        )

    def read(self, request: Request) -> str | None:
        """The request's value, if it has one; sent on several lines, their values joined into
        one list, as RFC 9110 §5.3 reads them. Not `pattern`'s: a 422.

        Starlette's `Headers.get` raises and catches a `KeyError` for a header that is not
        there, which is what most requests are: this looks through the scope's list instead.
        """
        values = [value for key, value in request.scope["headers"] if key == self._raw_name]
        if not values:
            return None
        value = b", ".join(values).decode("latin-1")
        if self._valid is not None and not self._valid.fullmatch(value):
            raise self.invalid(
                "string_pattern_mismatch", f"String should match pattern '{self.pattern}'"
            )
        return value

    def invalid(self, kind: str, message: str) -> RequestValidationError:
        """The 422 for a value of this header that cannot be taken."""
        return RequestValidationError(
            [{"type": kind, "loc": ("header", self.name), "msg": message}]
        )

    @property
    def parameter(self) -> dict[str, Any]:
        """The header as the OpenAPI document declares a parameter."""
        schema: dict[str, Any] = {"type": "string"}
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        return {
            "name": self.name,
            "in": "header",
            "required": False,
            "description": self.description,
            "schema": schema,
        }


def reads(*headers: RequestHeader) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads `headers`."""
    return {"parameters": [header.parameter for header in headers]}


IF_MATCH = RequestHeader(
    "If-Match",
    "Entity tags (`ETag`) of the user: answer, or write, only if one of them is current "
    "(`*`: any); else 412.",
)
IF_NONE_MATCH = RequestHeader(
    "If-None-Match",
    "Entity tags of the user: if one of them is current (`*`: any), a read is 304 and a write 412.",
)
IDEMPOTENCY_KEY = RequestHeader(
    "Idempotency-Key",
    "Makes the write safe to retry: a retry with this key and the same body, within the "
    "retention window (24 h by default), gets the first response again and changes nothing; "
    "with another body it is 422, while the first still runs 409.",
    pattern=KEY_PATTERN,
)
CONSISTENCY_TOKEN = RequestHeader(
    "Consistency-Token",
    "The `Consistency-Token` of a write's response: this read sees that write and every one "
    "before it. Without it, a service that reads from replicas may answer from one up to its "
    "lag bound behind (1 s by default).",
    pattern=consistency.TOKEN_PATTERN,
)


def read_after_token(request: Request) -> None:
    """The reads of `request` see the write whose token it sent back, if it sent one (and
    nothing else: whatever the context it runs in carries)."""
    token = CONSISTENCY_TOKEN.read(request)
    consistency.read_after(None if token is None else consistency.position(token))


def written() -> dict[str, str]:
    """The response headers of a write: the token of what it committed, on a store that gives
    tokens (PostgreSQL with replicas)."""
    if (position := consistency.must_see()) is None:
        return {}
    return {CONSISTENCY_TOKEN.name: consistency.token(position)}
