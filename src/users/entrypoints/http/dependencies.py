"""What a route takes from the app that serves it: the use cases, the store, the drain.

A seam for speed: `create_app` puts them on the app, and a route reads them from its request.
FastAPI 0.165 resolves a `Depends` anew on every request, 64,000 instructions each even with no
parameter (4 % of a GET, callgrind); reading the request's app costs a few attribute look-ups.
"""

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request

from users.container import Store
from users.domain.services import UserService
from users.entrypoints.server.drain import Drain


@dataclass(frozen=True, slots=True)
class AppParts:
    """What the routes of one app serve with; providers are called when a route needs them."""

    user_service: Callable[[], UserService]
    store: Callable[[], Store]
    drain: Drain

    def attach(self, app: FastAPI) -> None:
        app.state.parts = self


def parts(request: Request) -> AppParts:
    """The parts of the app serving `request`."""
    found: AppParts = request.app.state.parts
    return found


def user_service(request: Request) -> UserService:
    """The use cases, as the app's container built them."""
    return parts(request).user_service()
