"""The one table from the domain's errors to HTTP answers, and the handlers that give them.

Each answer is declared here once: the exception handlers send it, the routes document it in
the OpenAPI document, and an idempotent replay, which raises its refusal again, gets it again.
"""

import json
from dataclasses import dataclass
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
from users.entrypoints.http.headers import IDEMPOTENCY_KEY
from users.entrypoints.http.schemas import ErrorOut

RETRY_AFTER_SECONDS = 1
Responses = dict[int | str, dict[str, Any]]
"""The `responses` of a route, as OpenAPI documents them."""


class AsciiJSONResponse(JSONResponse):
    """JSON that any input can be echoed into: lone surrogates become escapes, not a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def invalid(location: tuple[str, ...], kind: str, message: str) -> dict[str, Any]:
    """One item of a 422's `detail`, in FastAPI's shape."""
    return {"type": kind, "loc": list(location), "msg": message}


@dataclass(frozen=True)
class ErrorAnswer:
    """A status and its body, and what it means (its description in the OpenAPI document); an
    answer worth retrying as it is says when (`Retry-After`)."""

    status: int
    body: dict[str, Any]
    description: str
    retry: bool = False

    def response(self) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.retry else None
        return AsciiJSONResponse(self.body, self.status, headers)

    def documented(self) -> tuple[int, dict[str, Any]]:
        """The answer as a route's OpenAPI `responses` lists it."""
        answer: dict[str, Any] = {"model": ErrorOut, "description": self.description}
        if self.retry:
            answer["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer", "example": RETRY_AFTER_SECONDS},
                }
            }
        return self.status, answer


def _detail(status: int, detail: str, *, retry: bool = False) -> ErrorAnswer:
    return ErrorAnswer(status, {"detail": detail}, detail, retry)


ANSWERS: dict[type[DomainError], ErrorAnswer] = {
    EmailAlreadyRegistered: _detail(400, "Email already registered"),
    UserNotFound: _detail(404, "User not found"),
    RequestInProgress: _detail(
        409, "A request with this Idempotency-Key is in progress", retry=True
    ),
    UserChanged: _detail(412, "User has changed"),
    IdempotencyKeyReused: ErrorAnswer(
        422,
        {
            "detail": [
                invalid(
                    ("header", IDEMPOTENCY_KEY.name),
                    "idempotency_key_reused",
                    "this Idempotency-Key was sent with a different request",
                )
            ]
        },
        "This Idempotency-Key was sent with a different request",
    ),
    StoreUnavailable: _detail(503, "Database unavailable", retry=True),
}
BODY_TOO_LARGE = _detail(413, "Request body too large")
"""A body over the limit: answered before the request reaches a route."""


def answers(*errors: type[DomainError] | ErrorAnswer) -> Responses:
    """The OpenAPI `responses` of a route that can give these answers, or raise these errors."""
    return dict(
        (error if isinstance(error, ErrorAnswer) else ANSWERS[error]).documented()
        for error in errors
    )


def install_error_handlers(app: FastAPI) -> None:
    """Turn domain errors into their answers and keep 422 bodies free of echoed input."""
    for error, answer in ANSWERS.items():
        app.add_exception_handler(error, _fixed(answer.response()))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(StarletteHTTPException, _unparseable_body)


def _fixed(response: Response) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        return response

    return handler


async def _invalid_request(request: Request, exc: Exception) -> Response:  # noqa: ARG001
    assert isinstance(exc, RequestValidationError)
    # FastAPI's default echoes the input back; a caller's secrets or undecodable text stay out.
    return _unprocessable([invalid(e["loc"], e["type"], e["msg"]) for e in exc.errors()])


async def _unparseable_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers 400 to JSON it cannot turn into data (a number of 5,000 digits, nesting
    # deeper than the recursion limit, bytes that are not UTF-8); 400 means a taken email here.
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        return _unprocessable([invalid(("body",), "json_invalid", "JSON decode error")])
    return await http_exception_handler(request, exc)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:  # noqa: ARG001
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
