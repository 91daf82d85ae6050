"""Prometheus metrics: requests by route and status, how long they took, the pools' load, and
where reads went (the primary, or a replica, and how far behind each replica may be).

With several worker processes, each writes its figures to files in `PROMETHEUS_MULTIPROC_DIR`
(the `serve` command makes one) and whichever worker is scraped adds them all up.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from users.container import Store

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# How often each process writes how many connections its requests hold, and where its reads
# went (and at every scrape).
POOL_SAMPLE_SECONDS = 1.0
# Any other token a client sends as a method would be a new series each: memory it controls.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("method", "route", "status")


class Metrics:
    """One app's metrics, in a registry of its own (so that two apps in one process can live)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "http_requests", "Requests answered.", _LABELS, registry=self.registry
        )
        self._durations = Histogram(
            "http_request_duration_seconds",
            "From the request's arrival to its response's last byte.",
            _LABELS,
            registry=self.registry,
        )
        self.connections_in_use = Gauge(
            "db_pool_connections_in_use",
            "Database connections checked out of the pools.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.requests_waiting = Gauge(
            "db_pool_requests_waiting",
            "Requests waiting for a worker thread and its connection.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._reads = Counter(
            "db_reads",
            "Reads served, by the primary or by a replica.",
            ("target",),
            registry=self.registry,
        )
        self._fallbacks = Counter(
            "db_replica_fallbacks",
            "Reads a replica failed, then served by the primary.",
            ("replica",),
            registry=self.registry,
        )
        self._replica_lag = Gauge(
            "db_replica_lag_seconds",
            "How stale a replica may be, at most (+Inf: never seen answering).",
            ("replica",),
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self._replica_usable = Gauge(
            "db_replica_usable",
            "1 when reads go to the replica: it answers, within the lag bound.",
            ("replica",),
            multiprocess_mode="livemin",
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._counted: dict[tuple[Counter, str], int] = {}
        self._store: Store | None = None

    @asynccontextmanager
    async def sampling(self, store: Store) -> AsyncIterator[None]:
        """Keep the figures of `store`'s pools and reads, read every POOL_SAMPLE_SECONDS and at
        every scrape, for as long as the context lasts.

        Sampled, not counted at each checkout: a gauge's lock, taken in twenty worker threads
        twice a request, cost 3.5 % of a GET's throughput (`make bench`, the same service
        without it in the same run).
        """
        self._store = store
        sampler = asyncio.get_running_loop().create_task(self._sample_regularly())
        try:
            yield
        finally:
            sampler.cancel()

    async def _sample_regularly(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    def _sample(self) -> None:
        if self._store is None:
            return
        self.connections_in_use.set(self._store.connections_in_use())
        for figures in self._store.reads():
            self._count(self._reads, figures.target, figures.reads)
            if figures.lag_seconds is not None:  # a replica
                self._count(self._fallbacks, figures.target, figures.fallbacks)
                self._replica_lag.labels(figures.target).set(figures.lag_seconds)
                self._replica_usable.labels(figures.target).set(figures.usable)

    def _count(self, counter: Counter, label: str, total: int) -> None:
        """Bring `counter` up to `total`, a count the store keeps."""
        counted = self._counted.get((counter, label), 0)
        counter.labels(label).inc(total - counted)
        self._counted[counter, label] = total

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (called on the event loop only)."""
        key = (method if method in _METHODS else "other", route, status)
        series = self._series.get(key)
        if series is None:  # looked up once per series, not per request
            labels = (key[0], route, str(status))
            series = self._series[key] = (
                self._requests.labels(*labels),
                self._durations.labels(*labels),
            )
        series[0].inc()
        series[1].observe(seconds)

    async def scrape(self, _: Request) -> Response:
        """The endpoint of `/metrics`: this process's figures, or every worker's added up."""
        self._sample()
        registry = self.registry
        if MULTIPROCESS_DIRECTORY in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def close(self) -> None:
        """This process stops: its gauges leave the sums."""
        if MULTIPROCESS_DIRECTORY in os.environ:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
