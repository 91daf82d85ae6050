"""`make bench`: the service against four references, the servers taking turns in one run.

    python -m benchmarks.bench [--seconds 8] [--repeats 4] [--connections 32] [--users 10000]
                               [--baseline REV]

Beside the service runs the service with `USERS_METRICS=false`, to show what metrics cost, and
with `--baseline REV` (`make bench BASELINE=REV`) the service as it was at git revision REV, to
show what the changes since cost (REV is served from this environment, on a database of its own
that it migrated).
The references (`benchmarks/floors.py`) serve the same two routes with the same models, served
the same way: the framework floor (no database), the driver floor (one raw psycopg2 statement),
the SQLAlchemy floor (the same statement through SQLAlchemy Core, straight from the route) and,
for POST, the transaction floor (the SQLAlchemy floor's write between BEGIN and COMMIT).
All four run at once on one database; each round gives every server one short run per scenario,
so that the machine's drift hits them all alike, and every other round runs them in reverse
order, so that of any two servers each runs first as often as the other. Figures are medians
over the rounds; a ratio is the median of the ratios within each round (runs a few seconds
apart), not a ratio of medians.

PostgreSQL: the server USERS_BENCH_DATABASE_URL names (default
postgresql://postgres@127.0.0.1:5432/postgres), where a database of its own is created for the
run and dropped after. Its user needs CREATEDB, and its max_connections room for the servers'
pools: up to 160 connections open at once, more with --baseline.
"""

import argparse
import os
import platform
import statistics
import sys
import uuid
from contextlib import ExitStack

from benchmarks.harness import (
    Load,
    Server,
    argument_parser,
    floor,
    load,
    median_load,
    require_tool,
    service_at,
    service_on,
    users_database,
)

SCENARIOS = {"GET": "get", "POST": "post"}
# `benchmarks.floors` kinds, by the names the report gives them, and the scenarios they run.
REFERENCES = {
    "framework floor": ("framework", ("GET", "POST")),
    "driver floor": ("driver", ("GET", "POST")),
    "SQLAlchemy floor": ("sqlalchemy", ("GET", "POST")),
    # The SQLAlchemy floor's write in a transaction (BEGIN, INSERT, COMMIT), as a unit of work
    # needs; its reads are the SQLAlchemy floor's.
    "transaction floor": ("transaction", ("POST",)),
}
# The service with USERS_METRICS=false: what metrics cost is the difference.
WITHOUT_METRICS = "service, no metrics"
METRICS_BUDGET = 0.05
# The budget this service keeps against the SQLAlchemy floor (throughput, p99), and what it
# aims at against the driver floor.
THROUGHPUT_TARGET = 0.9
P99_TARGET = 1.2
DRIVER_AIM = 0.75


def main() -> None:
    options = _arguments()
    require_tool("wrk", "wrk")
    with users_database("bench", options.users) as (server, database), ExitStack() as servers:
        running = [
            servers.enter_context(floor(kind, database, name))
            for name, (kind, _) in REFERENCES.items()
        ]
        running.append(
            servers.enter_context(service_on(database, name=WITHOUT_METRICS, metrics="false"))
        )
        if options.baseline:
            running.append(
                servers.enter_context(service_at(options.baseline, server, options.users))
            )
        running.append(servers.enter_context(service_on(database)))
        loads = _taking_turns(running, options)
    _report(options, loads)


def _arguments() -> argparse.Namespace:
    parser = argument_parser(__doc__, seconds=8, repeats=4)
    parser.add_argument("--connections", type=int, default=32, help="wrk's closed loop")
    parser.add_argument("--users", type=int, default=10_000, help="users loaded first")
    parser.add_argument(
        "--baseline", metavar="REV", help="also serve the service as it was at git revision REV"
    )
    return parser.parse_args()


def _taking_turns(
    servers: list[Server], options: argparse.Namespace
) -> dict[tuple[str, str], list[Load]]:
    """Loads per server and scenario, one a round, in rounds where every server runs once."""
    runs: dict[tuple[str, str], list[Load]] = {}
    batch = uuid.uuid4().hex[:8]
    for round_ in range(1, options.repeats + 1):
        in_turn = servers if round_ % 2 else servers[::-1]
        for label, lua in SCENARIOS.items():
            for number, server in enumerate(in_turn):
                if not _takes_part(server, label):
                    continue
                print(f"round {round_}/{options.repeats}: {label} {server.name}", file=sys.stderr)
                # GET picks among the loaded users; POST needs addresses no run has used.
                args = str(options.users) if lua == "get" else f"bench-{batch}-{round_}-{number}"
                runs.setdefault((server.name, label), []).append(
                    load(
                        server, lua, args, seconds=options.seconds, connections=options.connections
                    )
                )
    return runs


def _takes_part(server: Server, label: str) -> bool:
    """The services run every scenario; each reference, those it is built for."""
    return server.name not in REFERENCES or label in REFERENCES[server.name][1]


def _report(options: argparse.Namespace, runs: dict[tuple[str, str], list[Load]]) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"load: wrk -t1 -c{options.connections}, {options.seconds} s a run, "
        f"median of {options.repeats} rounds; {options.users} users loaded"
    )
    loads = {key: median_load(value) for key, value in runs.items()}
    baseline = [f"service at {options.baseline}"] if options.baseline else []
    names = [*REFERENCES, WITHOUT_METRICS, *baseline, "service"]
    summary = []
    for label in SCENARIOS:
        print(f"\n{label} /users/{'{id}' if label == 'GET' else ''}")
        print(f"  {'':20}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
        present = [name for name in names if (name, label) in loads]
        for name in present:
            run = loads[name, label]
            print(
                f"  {name:20}{run.per_second:8.0f}{run.p50_ms:9.2f}{run.p99_ms:9.2f}"
                f"{run.cpu_us_per_request:12.0f}{run.non_2xx + run.socket_errors:8d}"
            )
        ratios = ", ".join(
            f"{_throughput_ratio(runs, label, name):.2f}× {name}" for name in present[:-1]
        )
        print(f"  service req/s: {ratios}")
        cost = 1 - _throughput_ratio(runs, label, WITHOUT_METRICS)
        cpu = loads["service", label].cpu_us_per_request
        print(
            f"  metrics cost {cost:.1%} of throughput "
            f"({'within' if cost <= METRICS_BUDGET else 'over'} the {METRICS_BUDGET:.0%} budget), "
            f"{cpu - loads[WITHOUT_METRICS, label].cpu_us_per_request:.0f} µs of CPU per request"
        )
        if baseline:
            kept = _throughput_ratio(runs, label, baseline[0])
            print(f"  against {options.baseline}: {kept:.2f}× its throughput ({kept - 1:+.1%})")
        summary.append(_verdict(label, runs, loads))
    print("\nsummary: " + "; ".join(summary))


def _throughput_ratio(runs: dict[tuple[str, str], list[Load]], label: str, reference: str) -> float:
    """The service's req/s over `reference`'s: the median of the two's ratio in each round."""
    pairs = zip(runs["service", label], runs[reference, label], strict=True)
    return statistics.median(service.per_second / other.per_second for service, other in pairs)


def _verdict(
    label: str, runs: dict[tuple[str, str], list[Load]], loads: dict[tuple[str, str], Load]
) -> str:
    throughput = _throughput_ratio(runs, label, "SQLAlchemy floor")
    service = loads["service", label]
    tail = service.p99_ms / loads["SQLAlchemy floor", label].p99_ms
    errors = service.non_2xx + service.socket_errors
    met = throughput >= THROUGHPUT_TARGET and tail <= P99_TARGET and errors == 0
    verdict = (
        f"{label} {throughput:.2f}× SQLAlchemy floor (≥ {THROUGHPUT_TARGET}), p99 {tail:.2f}× "
        f"(≤ {P99_TARGET}), {errors} errors: {'met' if met else 'MISSED'}; "
        f"{_throughput_ratio(runs, label, 'driver floor'):.2f}× driver floor "
        f"(aim ≥ {DRIVER_AIM})"
    )
    if ("transaction floor", label) in runs:
        verdict += f"; {_throughput_ratio(runs, label, 'transaction floor'):.2f}× transaction floor"
    return verdict


if __name__ == "__main__":
    main()
