"""How routes get onto the app: a router's routes on the app's own list, a HEAD beside every GET,
and the API's routes tried first. Each is done once, when the app is built.

Seams over FastAPI 0.165, each for what it saves a request (callgrind, `make
bench-instructions`): FastAPI keeps an included router as one entry of the app's routes and
walks into it on every request, 63,000 instructions a GET (4 %); it gives an `APIRoute` no HEAD,
which HTTP requires of every GET; and every HEAD route a GET passes on its way costs it 1 %.
"""

import inspect
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.routing import APIRoute
from starlette.routing import Mount

from users.entrypoints.http.errors import Responses

# Every setting a route is declared with, which an `APIRoute` keeps under the same name.
_DECLARED = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "path", "endpoint", "route_class_override"}
)


def include(
    app: FastAPI,
    router: APIRouter,
    *,
    dependencies: Sequence[params.Depends] = (),
    responses: Responses | None = None,
) -> None:
    """`app.include_router(router, dependencies=…, responses=…)`, with the router's routes
    declared on the app itself."""
    for route in router.routes:
        assert isinstance(route, APIRoute), "a router of path operations"
        _declare(
            app,
            route,
            dependencies=[*dependencies, *route.dependencies],
            responses={**(responses or {}), **route.responses},
        )


def answer_head_on_every_get(app: FastAPI) -> None:
    """Declare, for each GET route, a HEAD route that answers alike and is documented alike; a
    server sends HEAD's answer without its body. (FastAPI gives an `APIRoute` no HEAD of its
    own, so neither the API's routes nor fastapi-offline's pages would answer it.)"""
    for route in [route for route in app.routes if isinstance(route, APIRoute)]:
        if route.methods == {"GET"}:
            _declare(app, route, methods={"HEAD"})


def try_the_api_first(app: FastAPI) -> None:
    """Move the HEAD routes and the documentation's files behind all others: the router tries
    routes in order."""
    app.router.routes.sort(
        key=lambda route: isinstance(route, Mount) or getattr(route, "methods", None) == {"HEAD"}
    )


def _declare(app: FastAPI, route: APIRoute, **changes: Any) -> None:
    """Declare `route` on `app` again, as it was declared but for `changes`."""
    declared = {name: getattr(route, name) for name in _DECLARED}
    app.router.add_api_route(route.path, route.endpoint, **(declared | changes))
