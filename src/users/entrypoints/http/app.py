"""Builds the FastAPI application, when asked: no app, settings or engine exists at import."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from users.container import Container
from users.domain.errors import StoreUnavailable
from users.entrypoints.http import health, routing, users
from users.entrypoints.http.dependencies import AppParts
from users.entrypoints.http.errors import ANSWERS, BODY_TOO_LARGE, install_error_handlers
from users.entrypoints.http.security import token_guard
from users.entrypoints.server.access_log import AccessLog
from users.entrypoints.server.admission import AdmissionMiddleware
from users.entrypoints.server.body_limit import BodyLimitMiddleware
from users.entrypoints.server.drain import Drain
from users.entrypoints.server.metrics import Metrics
from users.entrypoints.server.request_context import RequestContextMiddleware
from users.settings import Settings

MAX_BODY_BYTES = 64 * 1024
# Answered on the event loop, never waiting for a worker: a busy process is still alive.
UNBOUNDED_PATHS = ("/health/live", "/metrics")


def create_app(container: Container | None = None) -> FastAPI:
    """The users API over `container` (by default, one built from the environment)."""
    container = container or Container()
    settings = container.settings()
    drain = Drain(settings.shutdown_drain_seconds)
    metrics = Metrics() if settings.metrics else None
    access_log = AccessLog(json_lines=settings.log_json) if settings.logs_requests else None
    # Swagger UI and ReDoc, their scripts served by the service itself: /docs needs no CDN.
    app = FastAPIOffline(
        title="Users API",
        version="1.0.0",
        description="Register, read, list, update and delete users. "
        "Email addresses are unique, whatever their letter case.",
        lifespan=_lifespan(container, drain, metrics, access_log),
    )
    AppParts(container.user_service, container.store, drain).attach(app)
    guard = token_guard(settings.api_token)
    routing.include(app, users.router, dependencies=guard.dependencies, responses=guard.responses)
    routing.include(app, health.router)
    if metrics is not None:
        app.add_route("/metrics", metrics.scrape, include_in_schema=False)
    routing.answer_head_on_every_get(app)
    routing.try_the_api_first(app)
    install_error_handlers(app)
    _add_middleware(app, settings, drain, metrics, access_log)
    return app


def _lifespan(
    container: Container, drain: Drain, metrics: Metrics | None, access_log: AccessLog | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool; as many threads as pooled connections means
        # no request ever waits for a connection while holding a thread.
        to_thread.current_default_thread_limiter().total_tokens = container.settings().concurrency
        store = container.store()  # opened before the first request, not racing in threads
        drain.take_over_sigterm()
        async with AsyncExitStack() as stopping:  # what starts here stops in reverse order
            if access_log is not None:  # stopped last: the lines of every request served
                access_log.open()
                stopping.callback(access_log.close)
            stopping.callback(container.shutdown_resources)
            stopping.enter_context(store.serving())
            if metrics is not None:
                stopping.callback(metrics.close)
                await stopping.enter_async_context(metrics.sampling(store))
            yield

    return lifespan


def _add_middleware(
    app: FastAPI,
    settings: Settings,
    drain: Drain,
    metrics: Metrics | None,
    access_log: AccessLog | None,
) -> None:
    """Innermost first: admission, then the body limit, then the request id and access log
    around all of it."""
    app.add_middleware(
        AdmissionMiddleware,
        slots=settings.concurrency,
        timeout_seconds=settings.request_timeout_seconds,
        unbounded_paths=UNBOUNDED_PATHS,
        waiting=metrics.requests_waiting.inc if metrics is not None else lambda _: None,
        turned_away=ANSWERS[StoreUnavailable].response(),
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES, too_large=BODY_TOO_LARGE.response()
    )
    app.add_middleware(
        RequestContextMiddleware,
        drain=drain,
        access_log=access_log,
        observe=metrics.observe if metrics else None,
    )
