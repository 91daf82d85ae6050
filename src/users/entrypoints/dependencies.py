"""Dependency-injector's markers, adapted to how FastAPI calls dependencies."""

from typing import Self

from dependency_injector.wiring import Provide


class Provided(Provide):  # type: ignore[misc,valid-type]
    """`Provide`, for `Depends(Provided[...])`, resolved on the event loop.

    FastAPI runs a synchronous dependency, as the plain marker is, in its thread pool: one
    extra hop per request (about 90 µs of CPU here). The marker only stands in for the value
    that `@inject` puts in its place, so nothing needs a thread.
    """

    async def __call__(self) -> Self:
        return self
