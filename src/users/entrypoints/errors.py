"""The one table from domain errors to HTTP responses, and the handlers that apply it."""

import json
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from users.domain.errors import (
    DomainError,
    EmailAlreadyRegistered,
    IdempotencyKeyReused,
    RequestInProgress,
    StoreUnavailable,
    UserChanged,
    UserNotFound,
)
from users.entrypoints.schemas import ErrorOut

ERROR_RESPONSES: dict[type[DomainError], tuple[int, str]] = {
    EmailAlreadyRegistered: (400, "Email already registered"),
    UserNotFound: (404, "User not found"),
    RequestInProgress: (409, "A request with this Idempotency-Key is in progress"),
    UserChanged: (412, "User has changed"),
    StoreUnavailable: (503, "Database unavailable"),
}
# These are worth retrying as they are: a Retry-After header says when, in seconds.
RETRY_LATER = frozenset({409, 503})
RETRY_AFTER_SECONDS = 1
_RETRY_AFTER_DOC = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "example": RETRY_AFTER_SECONDS},
    }
}


class AsciiJSONResponse(JSONResponse):
    """JSON that any input can be echoed into: lone surrogates become escapes, not a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_response(error: type[DomainError]) -> JSONResponse:
    """The response to `error`, from the table."""
    status, detail = ERROR_RESPONSES[error]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in RETRY_LATER else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def documented_errors(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that can raise `errors`, taken from the same table."""
    return {
        ERROR_RESPONSES[error][0]: {
            "model": ErrorOut,
            "description": ERROR_RESPONSES[error][1],
            **({"headers": _RETRY_AFTER_DOC} if ERROR_RESPONSES[error][0] in RETRY_LATER else {}),
        }
        for error in errors
    }


def install_error_handlers(app: FastAPI) -> None:
    """Turn domain errors into their responses and keep 422 bodies free of echoed input."""
    for error in ERROR_RESPONSES:
        app.add_exception_handler(error, _fixed_response(error))
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(StarletteHTTPException, _unparseable_body)


def _fixed_response(error: type[DomainError]) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(error)

    return handler


async def _key_reused(request: Request, exc: Exception) -> Response:
    return _unprocessable(
        [
            {
                "type": "idempotency_key_reused",
                "loc": ["header", "Idempotency-Key"],
                "msg": "this Idempotency-Key was sent with a different request",
            }
        ]
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's default echoes the input back; a caller's secrets or undecodable text stay out.
    return _unprocessable(
        [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    )


async def _unparseable_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers 400 to JSON it cannot turn into data (a number of 5,000 digits, nesting
    # deeper than the recursion limit, bytes that are not UTF-8); 400 means a taken email here.
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        return _unprocessable(
            [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]
        )
    return await http_exception_handler(request, exc)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    # Starlette's Allow names the methods of the first route on the path; list them all.
    path = request.url.path
    allowed = sorted(
        method
        for route in request.app.router.routes
        if isinstance(route, Route) and route.path_regex.match(path)
        for method in route.methods or ()
    )
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(allowed)},
    )


def _unprocessable(detail: list[dict[str, Any]]) -> Response:
    return AsciiJSONResponse({"detail": detail}, status_code=422)
