"""Opt-in bearer-token protection of the `/users` routes."""

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
