"""The request headers the user routes read themselves, and how the OpenAPI document declares
them.

FastAPI's `Header()` parameters cost about 80,000 instructions each per request (FastAPI 0.165
works out each parameter's model, aliases and validator again on every call): two of them made
a read 13 % dearer (`make bench-instructions`). Read from the request, a header costs a look-up;
the document declares them all the same, and a malformed key gets FastAPI's own 422.
"""

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from users.domain.idempotency import KEY_PATTERN

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
IDEMPOTENCY_KEY = "Idempotency-Key"
_RAW_NAMES = {
    name: name.lower().encode("latin-1") for name in (IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY)
}
_KEY = re.compile(KEY_PATTERN)
_DESCRIPTIONS = {
    IF_MATCH: "Entity tags (`ETag`) of the user: answer, or write, only if one of them is "
    "current (`*`: any); else 412.",
    IF_NONE_MATCH: "Entity tags of the user: if one of them is current (`*`: any), a read is 304 "
    "and a write 412.",
    IDEMPOTENCY_KEY: "Makes the write safe to retry: a retry with this key and the same body, "
    "within the retention window (24 h by default), gets the first response again and changes "
    "nothing; with another body it is 422, while the first still runs 409.",
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    IF_MATCH: {"type": "string"},
    IF_NONE_MATCH: {"type": "string"},
    IDEMPOTENCY_KEY: {"type": "string", "pattern": KEY_PATTERN},
}


def declared(*names: str) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads the headers `names`."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": False,
                "description": _DESCRIPTIONS[name],
                "schema": _SCHEMAS[name],
            }
            for name in names
        ]
    }


def header(request: Request, name: str) -> str | None:
    """The request's header `name` (one of the above), if it has one; sent on several lines,
    their values joined into one list, as RFC 9110 §5.3 reads them.

    A look-up in the ASGI scope's list, whose names servers send in lower case: Starlette's
    `Headers.get` raises and catches a `KeyError` for a header that is not there, which is
    what most requests are.
    """
    raw_name = _RAW_NAMES[name]
    values = [value for key, value in request.scope["headers"] if key == raw_name]
    if not values:
        return None
    return b", ".join(values).decode("latin-1")


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key`, if any; a 422 unless it is 1 to 255 printable ASCII
    characters."""
    key = header(request, IDEMPOTENCY_KEY)
    if key is not None and not _KEY.fullmatch(key):
        raise RequestValidationError(
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ("header", IDEMPOTENCY_KEY),
                    "msg": f"String should match pattern '{KEY_PATTERN}'",
                }
            ]
        )
    return key
