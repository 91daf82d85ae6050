"""Opt-in bearer-token protection of the `/users` routes."""

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security, params, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from users.entrypoints.http.schemas import ErrorOut

_bearer = HTTPBearer(auto_error=False, description="The token set in USERS_API_TOKEN.")


def bearer_token_guard(token: str) -> Callable[..., Awaitable[None]]:
    """A dependency that refuses, with 401, any request not bearing `token`."""
    expected = token.encode()

    async def require_bearer_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> None:
        # compare_digest takes as long whatever the first wrong byte: no timing oracle.
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), expected
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="Not authenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_bearer_token


@dataclass(frozen=True)
class Guard:
    """What a protected route declares: the check it runs first and the answer it can give."""

    dependencies: list[params.Depends] = field(default_factory=list)
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)


def token_guard(token: SecretStr | None) -> Guard:
    """The bearer-token check when a token is set; nothing at all when none is."""
    if token is None:
        return Guard()
    return Guard(
        dependencies=[Depends(bearer_token_guard(token.get_secret_value()))],
        responses={401: {"model": ErrorOut, "description": "Missing or wrong bearer token"}},
    )
