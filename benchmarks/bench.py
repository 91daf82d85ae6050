"""`make bench`: the service against the framework floor and the database ceiling, in one run.

    python -m benchmarks.bench [--seconds 15] [--repeats 3] [--connections 32] [--users 10000]

PostgreSQL: USERS_BENCH_DATABASE_URL names a server (a database of its own is created on it and
dropped), else a throwaway server is started, as for the integration tests.
"""

import argparse
import os
import platform
import statistics
import sys
import uuid
from dataclasses import dataclass

from tests.integration.postgres import pgbench_path

from benchmarks.ceiling import Ceiling, capture_sql, pgbench, pgbench_scripts
from benchmarks.harness import (
    Load,
    Server,
    argument_parser,
    floor,
    load,
    median_load,
    require_tool,
    service_on,
    users_database,
)

# The targets, as ratios of the service to the floor measured in the same run.
THROUGHPUT_TARGETS = {"GET": 0.6, "POST": 0.5}
P99_TARGET = 2.0


@dataclass(frozen=True)
class Scenario:
    label: str
    lua: str
    args: list[str]


def main() -> None:
    options = _arguments()
    require_tool("wrk", "wrk")
    pgbench_binary = pgbench_path() or require_tool("pgbench", "postgresql-client")
    scenarios = [
        Scenario("GET", "get", [str(options.users)]),
        Scenario("POST", "post", [f"bench-{uuid.uuid4().hex[:8]}"]),
    ]
    with users_database("bench", options.users) as (server, database):
        captured = capture_sql(server, database)
        with service_on(database) as service, floor() as framework:
            loads = _alternating([service, framework], scenarios, options)
        ceilings = {
            label: _median(
                [
                    pgbench(
                        pgbench_binary,
                        database,
                        script,
                        seconds=options.seconds,
                        clients=options.connections,
                    )
                    for _ in range(options.repeats)
                ]
            )
            for label, script in pgbench_scripts(captured, options.users).items()
        }
    _report(options, loads, ceilings, {"GET": captured.get, "POST": captured.post})


def _arguments() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--connections", type=int, default=32, help="wrk's closed loop")
    parser.add_argument("--users", type=int, default=10_000, help="users loaded first")
    return parser.parse_args()


def _alternating(
    servers: list[Server], scenarios: list[Scenario], options: argparse.Namespace
) -> dict[tuple[str, str], Load]:
    """Median loads per server and scenario; the servers take turns, so drift hits both."""
    runs: dict[tuple[str, str], list[Load]] = {}
    for repeat in range(options.repeats):
        for scenario in scenarios:
            for server in servers:
                print(
                    f"run {repeat + 1}/{options.repeats}: {scenario.label} {server.name}",
                    file=sys.stderr,
                )
                # POST addresses must be new in every run: the last argument is their prefix.
                args = (
                    scenario.args
                    if scenario.lua != "post"
                    else [f"{scenario.args[0]}-{server.name}-{repeat}"]
                )
                runs.setdefault((server.name, scenario.label), []).append(
                    load(
                        server,
                        scenario.lua,
                        *args,
                        seconds=options.seconds,
                        connections=options.connections,
                    )
                )
    return {key: median_load(value) for key, value in runs.items()}


def _median(runs: list[Ceiling]) -> Ceiling:
    return Ceiling(
        per_second=statistics.median(run.per_second for run in runs),
        latency_ms=statistics.median(run.latency_ms for run in runs),
    )


def _report(
    options: argparse.Namespace,
    loads: dict[tuple[str, str], Load],
    ceilings: dict[str, Ceiling],
    statements: dict[str, list[str]],
) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"load: wrk -t1 -c{options.connections}, {options.seconds} s a run, "
        f"median of {options.repeats} runs; {options.users} users loaded"
    )
    summary = []
    for label, target in THROUGHPUT_TARGETS.items():
        service, framework, ceiling = (
            loads["service", label],
            loads["floor", label],
            ceilings[label],
        )
        print(f"\n{label} /users/{'{id}' if label == 'GET' else ''}")
        print(f"  {'':22}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
        for name, run in (("service", service), ("floor (no database)", framework)):
            errors = run.non_2xx + run.socket_errors
            print(
                f"  {name:22}{run.per_second:8.0f}{run.p50_ms:9.2f}{run.p99_ms:9.2f}"
                f"{run.cpu_us_per_request:12.0f}{errors:8d}"
            )
        print(f"  {'ceiling (pgbench)':22}{ceiling.per_second:8.0f}{ceiling.latency_ms:9.2f}")
        throughput = service.per_second / framework.per_second
        tail = service.p99_ms / framework.p99_ms
        headroom = ceiling.per_second / service.per_second
        met = throughput >= target and tail <= P99_TARGET
        print(
            f"  service/floor {throughput:.2f}× (target ≥ {target}), p99 service/floor "
            f"{tail:.2f}× (target ≤ {P99_TARGET}), ceiling/service {headroom:.1f}×"
        )
        summary.append(
            f"{label} {throughput:.2f}× floor, p99 {tail:.2f}× floor, ceiling {headroom:.1f}× "
            f"service: {'met' if met else 'MISSED'}"
        )
    print("\nSQL per request, captured on the wire (pgbench replays it with other values):")
    for label, sql in statements.items():
        print(f"  {label}: " + "; ".join(" ".join(statement.split()) for statement in sql))
    print("\nsummary: " + "; ".join(summary))


if __name__ == "__main__":
    main()
