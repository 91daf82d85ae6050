"""The HTTP routes: each turns a request into one use case call and its result into a response."""

from typing import Annotated, Any

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field

from users.container import Container
from users.domain.errors import EmailAlreadyRegistered, StoreUnavailable, UserNotFound
from users.domain.model import MAX_USER_ID
from users.domain.ports import StoreProbe, StoreStatus
from users.domain.services import UserService
from users.entrypoints.dependencies import Provided
from users.entrypoints.errors import documented_errors
from users.entrypoints.limits import TOO_LARGE
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

router = APIRouter()
health_router = APIRouter()

Users = Annotated[UserService, Depends(Provided[Container.user_service])]


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


class UserQuery(BaseModel):
    """Which users to list: a page after a cursor, or the one with an address."""

    limit: Annotated[int, DIGITS_ONLY] = Field(50, ge=1, le=100, description="Users per page.")
    after: Annotated[int, DIGITS_ONLY] = Field(
        0, ge=0, le=MAX_USER_ID, description="The `next_after` of the last page."
    )
    email: OptionalEmailIn = Field(None, description="Find the user with this address, any case.")


@router.post(
    "/users/",
    response_model=UserOut,
    responses=documented_errors(EmailAlreadyRegistered, StoreUnavailable) | BODY_TOO_LARGE,
)
@inject
def register_user(user: UserCreate, users: Users) -> UserOut:
    """Register a user. An address already registered, in any letter case, is refused."""
    return UserOut.of(users.register(name=user.name, email=user.email))


@router.get(
    "/users/",
    response_model=UserPageOut,
    responses=documented_errors(StoreUnavailable),
)
@inject
def list_users(query: Annotated[UserQuery, Query()], users: Users) -> UserPageOut:
    """List users in id order, a page at a time, or find the one user with an address."""
    if query.email is not None:
        found = users.find_by_email(email=query.email)
        return UserPageOut(items=[] if found is None else [UserOut.of(found)], next_after=None)
    return UserPageOut.of(users.list_page(after=query.after, limit=query.limit))


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    responses=documented_errors(UserNotFound, StoreUnavailable),
)
@inject
def get_user(user_id: UserId, users: Users) -> UserOut:
    """Read one user."""
    return UserOut.of(users.get(user_id=user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=documented_errors(EmailAlreadyRegistered, UserNotFound, StoreUnavailable)
    | BODY_TOO_LARGE,
)
@inject
def update_user(user_id: UserId, changes: UserUpdate, users: Users) -> UserOut:
    """Change a user's name and/or email; an address another user has is refused."""
    return UserOut.of(users.update(user_id=user_id, name=changes.name, email=changes.email))


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=documented_errors(UserNotFound, StoreUnavailable),
)
@inject
def delete_user(user_id: UserId, users: Users) -> None:
    """Delete a user."""
    users.delete(user_id=user_id)


@health_router.get(
    "/health",
    response_model=HealthOut,
    responses={
        503: {
            "model": HealthDownOut,
            "description": "The database does not answer (`unreachable`), or its schema is not "
            "the revision this build expects (`schema out of date`)",
        }
    },
)
@inject
def readiness(probe: Annotated[StoreProbe, Depends(Provided[Container.store_probe])]) -> Response:
    """Whether the service can serve users now: its database answers, with the expected schema."""
    database = probe()
    if database is StoreStatus.OK:
        return JSONResponse({"status": "ok", "database": database})
    return JSONResponse(
        {"status": "unavailable", "database": database, "detail": "Database unavailable"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@health_router.get("/health/live", response_model=LiveOut)
async def liveness() -> LiveOut:
    """Whether the process answers at all; never touches the database, nor waits for a thread."""
    return LiveOut(status="ok")
