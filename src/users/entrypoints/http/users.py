"""The `/users` routes: each reads the request, calls one use case, and shapes its answer."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel

from users.domain.errors import (
    EmailAlreadyRegistered,
    RequestInProgress,
    StoreUnavailable,
    UserChanged,
    UserNotFound,
)
from users.domain.model import User
from users.entrypoints.http.conditional import etag, holds, precondition
from users.entrypoints.http.dependencies import user_service
from users.entrypoints.http.errors import BODY_TOO_LARGE, Responses, answers
from users.entrypoints.http.headers import (
    CONSISTENCY_TOKEN,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_NONE_MATCH,
    read_after_token,
    reads,
    written,
)
from users.entrypoints.http.schemas import (
    UserCreate,
    UserId,
    UserOut,
    UserPageOut,
    UserQuery,
    UserUpdate,
)

_ETAG: dict[str, Any] = {
    "ETag": {
        "description": "The user's entity tag: strong, changes with every write",
        "schema": {"type": "string"},
    }
}
_TOKEN: dict[str, Any] = {
    CONSISTENCY_TOKEN.name: {
        "description": "When the service reads from replicas: send it back as a read's "
        "`Consistency-Token` to read this write, whichever instance or replica serves the read",
        "schema": {"type": "string", "pattern": CONSISTENCY_TOKEN.pattern},
    }
}
WITH_ETAG: Responses = {200: {"headers": _ETAG}}
WRITTEN: Responses = {200: {"headers": _ETAG | _TOKEN}}
DELETED: Responses = {204: {"description": "Deleted", "headers": _TOKEN}}
NOT_MODIFIED: Responses = {
    304: {"description": "If-None-Match names the current entity tag; no body", "headers": _ETAG}
}

router = APIRouter(prefix="/users", responses=answers(StoreUnavailable))


@router.post(
    "/",
    response_model=UserOut,
    responses=WRITTEN | answers(EmailAlreadyRegistered, RequestInProgress, BODY_TOO_LARGE),
    openapi_extra=reads(IDEMPOTENCY_KEY),
)
def register_user(user: UserCreate, request: Request) -> Response:
    """Register a user. An address already registered, in any letter case, is refused."""
    key = IDEMPOTENCY_KEY.read(request)
    registered = user_service(request).register(name=user.name, email=user.email, key=key)
    return _tagged(registered, written())


@router.get("/", response_model=UserPageOut, openapi_extra=reads(CONSISTENCY_TOKEN))
def list_users(query: Annotated[UserQuery, Query()], request: Request) -> Response:
    """List users in id order, a page at a time, or find the one user with an address."""
    read_after_token(request)
    users = user_service(request)
    if query.email is None:
        return _json(UserPageOut.of(users.list_page(after=query.after, limit=query.limit)))
    found = users.find_by_email(email=query.email)
    return _json(UserPageOut(items=[] if found is None else [UserOut.of(found)], next_after=None))


@router.get(
    "/{user_id}",
    response_model=UserOut,
    responses=WITH_ETAG | NOT_MODIFIED | answers(UserNotFound, UserChanged),
    openapi_extra=reads(IF_MATCH, IF_NONE_MATCH, CONSISTENCY_TOKEN),
)
def get_user(user_id: UserId, request: Request) -> Response:
    """Read one user."""
    read_after_token(request)
    user = user_service(request).get(user_id=user_id)
    # RFC 9110 §13.2.2: If-Match first (else 412), then If-None-Match (304 on a read).
    if not holds(precondition(request, user_id, (IF_MATCH,)), user):
        raise UserChanged()
    if not holds(precondition(request, user_id, (IF_NONE_MATCH,)), user):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag(user))
    return _tagged(user)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    responses=WRITTEN
    | answers(EmailAlreadyRegistered, UserNotFound, RequestInProgress, UserChanged, BODY_TOO_LARGE),
    openapi_extra=reads(IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY),
)
def update_user(user_id: UserId, changes: UserUpdate, request: Request) -> Response:
    """Change a user's name and/or email; an address another user has is refused."""
    updated = user_service(request).update(
        user_id=user_id,
        name=changes.name,
        email=changes.email,
        precondition=precondition(request, user_id),
        key=IDEMPOTENCY_KEY.read(request),
    )
    return _tagged(updated, written())


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=DELETED | answers(UserNotFound, UserChanged),
    openapi_extra=reads(IF_MATCH, IF_NONE_MATCH),
)
def delete_user(user_id: UserId, request: Request) -> Response:
    """Delete a user."""
    user_service(request).delete(user_id=user_id, precondition=precondition(request, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=written())


def _tagged(user: User, headers: dict[str, str] | None = None) -> Response:
    return _json(UserOut.of(user), etag(user) | headers if headers else etag(user))


def _json(answer: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """`answer` as the JSON body of a 200, serialized once.

    A seam for speed. From a route that returns a model, FastAPI 0.165 validates it against
    the `response_model` once more, on a second trip through the thread pool for a `def`
    route, then serializes it: 295,000 instructions a request, a fifth of a GET (`make
    bench-instructions`). The answer is built from the same models, which validate as they
    are built, so it holds to the documented schema all the same.
    """
    return Response(answer.model_dump_json(), media_type="application/json", headers=headers)
