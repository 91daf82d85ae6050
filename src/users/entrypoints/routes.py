"""The HTTP routes: each turns a request into one use case call and its result into a response."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, Field
from starlette.routing import Mount

from users.domain.errors import (
    EmailAlreadyRegistered,
    RequestInProgress,
    StoreUnavailable,
    UserChanged,
    UserNotFound,
)
from users.domain.model import MAX_USER_ID, Precondition, User
from users.domain.ports import StoreProbe, StoreStatus
from users.domain.services import UserService
from users.entrypoints.errors import documented_errors
from users.entrypoints.lifecycle import Lifecycle
from users.entrypoints.limits import TOO_LARGE
from users.entrypoints.metrics import CONTENT_TYPE, Metrics
from users.entrypoints.preconditions import entity_tag, holds, precondition
from users.entrypoints.request_headers import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_NONE_MATCH,
    declared,
    header,
    idempotency_key,
)
from users.entrypoints.schemas import (
    ErrorOut,
    HealthDownOut,
    HealthOut,
    LiveOut,
    OptionalEmailIn,
    UserCreate,
    UserOut,
    UserPageOut,
    UserUpdate,
)
from users.entrypoints.security import Guard


def _digits_only(value: object) -> object:
    # Lax integer parsing would also take "+1", " 1", "1.0" and "1_000" for 1.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be written in digits only")
    return value


DIGITS_ONLY = BeforeValidator(_digits_only)
UserId = Annotated[int, Path(ge=1, le=MAX_USER_ID, description="The user's id."), DIGITS_ONLY]
BODY_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": TOO_LARGE}
}

ETAG_HEADER = {
    "ETag": {
        "description": "The user's entity tag: strong, changes with every write",
        "schema": {"type": "string"},
    }
}
WITH_ETAG: dict[int | str, dict[str, Any]] = {200: {"headers": ETAG_HEADER}}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "If-None-Match names the current entity tag; no body",
        "headers": ETAG_HEADER,
    }
}


def answer_head_on_every_get(app: FastAPI) -> None:
    """Declare, for each GET route, a HEAD route that answers alike and is documented alike; a
    server sends HEAD's answer without its body. (FastAPI gives an `APIRoute` no HEAD of its
    own, so neither the routes here nor fastapi-offline's pages would answer it.)"""
    for route in [route for route in app.routes if isinstance(route, APIRoute)]:
        if route.methods == {"GET"}:
            app.add_api_route(
                route.path,
                route.endpoint,
                methods=["HEAD"],
                response_model=route.response_model,
                responses=route.responses,
                dependencies=route.dependencies,
                include_in_schema=route.include_in_schema,
                openapi_extra=route.openapi_extra,
            )


def try_the_api_first(app: FastAPI) -> None:
    """Move the HEAD routes and the documentation's files behind all others. The router tries
    routes in order, and every HEAD route a GET had to pass cost it about 1 % of its
    instructions."""
    app.router.routes.sort(
        key=lambda route: isinstance(route, Mount) or getattr(route, "methods", None) == {"HEAD"}
    )


def _precondition(user_id: int, request: Request) -> Precondition | None:
    return precondition(user_id, header(request, IF_MATCH), header(request, IF_NONE_MATCH))


def _etag(user: User) -> dict[str, str]:
    return {"ETag": entity_tag(user)}


def _tagged(user: User, response: Response) -> UserOut:
    response.headers.update(_etag(user))
    return UserOut.of(user)


class UserQuery(BaseModel):
    """Which users to list: a page after a cursor, or the one with an address."""

    limit: Annotated[int, DIGITS_ONLY] = Field(50, ge=1, le=100, description="Users per page.")
    after: Annotated[int, DIGITS_ONLY] = Field(
        0, ge=0, le=MAX_USER_ID, description="The `next_after` of the last page."
    )
    email: OptionalEmailIn = Field(None, description="Find the user with this address, any case.")


# The routes are declared on the app itself, not on a router it includes: FastAPI (since
# 0.137) walks an included router on every request, which cost this service 4 % of its
# throughput (`make bench`). They get what they need from the container's providers, called
# as they run: no FastAPI dependency to resolve per request, and no module-wide wiring that
# two apps in one process would share.


class UserRoutes:
    """The `/users` routes: each turns a request into one use case of `service()` and its result
    into a response."""

    def __init__(self, service: Callable[[], UserService]) -> None:
        self._service = service

    def register_user(self, user: UserCreate, request: Request, response: Response) -> UserOut:
        """Register a user. An address already registered, in any letter case, is refused."""
        key = idempotency_key(request)
        return _tagged(
            self._service().register(name=user.name, email=user.email, key=key), response
        )

    def list_users(self, query: Annotated[UserQuery, Query()]) -> UserPageOut:
        """List users in id order, a page at a time, or find the one user with an address."""
        if query.email is None:
            return UserPageOut.of(self._service().list_page(after=query.after, limit=query.limit))
        found = self._service().find_by_email(email=query.email)
        return UserPageOut(items=[] if found is None else [UserOut.of(found)], next_after=None)

    def get_user(self, user_id: UserId, request: Request, response: Response) -> UserOut | Response:
        """Read one user."""
        user = self._service().get(user_id=user_id)
        # RFC 9110 §13.2.2: If-Match first, then If-None-Match.
        if not holds(precondition(user_id, header(request, IF_MATCH), None), user):
            raise UserChanged(user_id)
        if not holds(precondition(user_id, None, header(request, IF_NONE_MATCH)), user):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=_etag(user))
        return _tagged(user, response)

    def update_user(
        self, user_id: UserId, changes: UserUpdate, request: Request, response: Response
    ) -> UserOut:
        """Change a user's name and/or email; an address another user has is refused."""
        updated = self._service().update(
            user_id=user_id,
            name=changes.name,
            email=changes.email,
            precondition=_precondition(user_id, request),
            key=idempotency_key(request),
        )
        return _tagged(updated, response)

    def delete_user(self, user_id: UserId, request: Request) -> None:
        """Delete a user."""
        self._service().delete(user_id=user_id, precondition=_precondition(user_id, request))


def add_user_routes(app: FastAPI, guard: Guard, user_service: Callable[[], UserService]) -> None:
    """The `/users` routes of `UserRoutes`, behind `guard`, and what each can answer."""
    routes, guarded = UserRoutes(user_service), guard.dependencies
    refused = documented_errors(EmailAlreadyRegistered, RequestInProgress, StoreUnavailable)
    app.post(
        "/users/",
        response_model=UserOut,
        responses=guard.responses | WITH_ETAG | refused | BODY_TOO_LARGE,
        openapi_extra=declared(IDEMPOTENCY_KEY),
        dependencies=guarded,
    )(routes.register_user)
    app.get(
        "/users/",
        response_model=UserPageOut,
        responses=guard.responses | documented_errors(StoreUnavailable),
        dependencies=guarded,
    )(routes.list_users)
    app.get(
        "/users/{user_id}",
        response_model=UserOut,
        responses=guard.responses
        | WITH_ETAG
        | NOT_MODIFIED
        | documented_errors(UserNotFound, UserChanged, StoreUnavailable),
        openapi_extra=declared(IF_MATCH, IF_NONE_MATCH),
        dependencies=guarded,
    )(routes.get_user)
    app.patch(
        "/users/{user_id}",
        response_model=UserOut,
        responses=guard.responses
        | WITH_ETAG
        | documented_errors(
            EmailAlreadyRegistered, UserNotFound, RequestInProgress, UserChanged, StoreUnavailable
        )
        | BODY_TOO_LARGE,
        openapi_extra=declared(IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY),
        dependencies=guarded,
    )(routes.update_user)
    app.delete(
        "/users/{user_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=guard.responses | documented_errors(UserNotFound, UserChanged, StoreUnavailable),
        openapi_extra=declared(IF_MATCH, IF_NONE_MATCH),
        dependencies=guarded,
    )(routes.delete_user)


def add_health_routes(
    app: FastAPI, store_probe: Callable[[], StoreProbe], lifecycle: Lifecycle
) -> None:
    """Readiness (what `store_probe()` finds, unless the process is stopping) and liveness,
    open to every caller."""

    @app.get(
        "/health",
        response_model=HealthOut,
        responses={
            503: {
                "model": HealthDownOut,
                "description": "The database does not answer (`unreachable`), its schema is not "
                "the revision this build expects (`schema out of date`), or the process is "
                "shutting down (`not checked`)",
            }
        },
    )
    def readiness() -> Response:
        """Whether the service can serve users now: its database answers, with the schema
        this build expects."""
        if lifecycle.draining:
            return _unready("not checked", "Shutting down")
        look_at_store = store_probe()
        database = look_at_store()
        if database is StoreStatus.OK:
            return JSONResponse({"status": "ok", "database": database})
        return _unready(database, "Database unavailable")

    @app.get("/health/live", response_model=LiveOut)
    async def liveness() -> LiveOut:
        """Whether the process answers at all; touches no database, waits for no thread."""
        return LiveOut(status="ok")


def _unready(database: str, detail: str) -> Response:
    return JSONResponse(
        {"status": "unavailable", "database": database, "detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def add_metrics_route(app: FastAPI, metrics: Metrics) -> None:
    """`/metrics`, for Prometheus: an operator's view, left out of the API's schema."""

    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)
