"""`make bench`: the service against four references, the servers taking turns in one run.

    python -m benchmarks.bench [--seconds 8] [--repeats 4] [--connections 32] [--users 10000]
                               [--baseline REV] [--no-replicas]

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

Then read replicas, unless `--no-replicas`: on a primary and a streaming replica of the run's
own (`tests.replication`: PostgreSQL's initdb, pg_ctl and pg_basebackup), the service on the
primary alone and the service reading from the replica (`USERS_DATABASE_REPLICA_URLS`) take
turns in rounds as above. Both GET; the latter also GETs with the `Consistency-Token` of a write
the replica has replayed, so that the check of the token is all that differs. Before the rounds,
a read with the token and one without must have been served by the replica (`db_reads_total`
on `/metrics`): a benchmark of replicas that read the primary would measure nothing.

PostgreSQL: the server USERS_BENCH_DATABASE_URL names (default
postgresql://postgres@127.0.0.1:5432/postgres), where a database of its own is created for the
run and dropped after. Its user needs CREATEDB, and its max_connections room for the servers'
pools: up to 160 connections open at once, more with --baseline.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import ExitStack

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.harness import (
    Load,
    Server,
    argument_parser,
    floor,
    load,
    median_load,
    replicated_database,
    require_tool,
    service_at,
    service_on,
    users_database,
)

SCENARIOS = ("GET", "POST")
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
# The replica section: two services on one primary, the second reading from its replica.
ON_PRIMARY = "service on the primary"
ON_REPLICA = "service, reads on a replica"
WITH_TOKEN = "GET + token"
TOKEN = "Consistency-Token"
# The loads of each (server, scenario), one a round.
Runs = dict[tuple[str, str], list[Load]]


def main() -> None:
    options = _arguments()
    require_tool("wrk", "wrk")
    _report(options, _against_references(options))
    if options.replicas:
        _report_replicas(options, *_replicas(options))


def _against_references(options: argparse.Namespace) -> Runs:
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
        scenarios = {"GET": ("get", str(options.users)), "POST": ("post",)}
        return _taking_turns(running, scenarios, options, _takes_part)


def _replicas(options: argparse.Namespace) -> tuple[Runs, float]:
    """The runs of the replica section, and the share of the replica service's reads during
    them that the replica served."""
    with replicated_database("replicas", options.users) as (database, replica), ExitStack() as on:
        primary_only = on.enter_context(service_on(database, name=ON_PRIMARY))
        # A lag bound that the replica always keeps, so that reads without a token go to it.
        replica_url = replica.render_as_string(hide_password=False)
        reading_replica = on.enter_context(
            service_on(
                database,
                name=ON_REPLICA,
                database_replica_urls=replica_url,
                replica_max_lag_seconds="5",
            )
        )
        token = _token_read_on_replica(reading_replica)
        before = _reads(reading_replica)
        users = str(options.users)
        runs = _taking_turns(
            [primary_only, reading_replica],
            {"GET": ("get", users), WITH_TOKEN: ("get_with_token", users, token)},
            options,
            lambda server, label: label == "GET" or server is reading_replica,
        )
        after = _reads(reading_replica)
    served = {target: after[target] - before.get(target, 0) for target in after}
    return runs, 1 - served.get("primary", 0) / max(sum(served.values()), 1)


def _arguments() -> argparse.Namespace:
    parser = argument_parser(__doc__, seconds=8, repeats=4)
    parser.add_argument("--connections", type=int, default=32, help="wrk's closed loop")
    parser.add_argument("--users", type=int, default=10_000, help="users loaded first")
    parser.add_argument(
        "--baseline", metavar="REV", help="also serve the service as it was at git revision REV"
    )
    parser.add_argument(
        "--no-replicas",
        dest="replicas",
        action="store_false",
        help="leave out the read replica section",
    )
    return parser.parse_args()


def _taking_turns(
    servers: list[Server],
    scenarios: dict[str, tuple[str, ...]],
    options: argparse.Namespace,
    takes_part: Callable[[Server, str], bool],
) -> Runs:
    """Loads per server and scenario, one a round, in rounds where every server runs once.

    `scenarios`: by label, a script of lua/ and its arguments; each run is given one more, a tag
    no other run has, which POST makes the addresses it registers of.
    """
    runs: Runs = {}
    batch = uuid.uuid4().hex[:8]
    for round_ in range(1, options.repeats + 1):
        in_turn = servers if round_ % 2 else servers[::-1]
        for label, (lua, *args) in scenarios.items():
            for number, server in enumerate(in_turn):
                if not takes_part(server, label):
                    continue
                print(f"round {round_}/{options.repeats}: {label} {server.name}", file=sys.stderr)
                tag = f"bench-{batch}-{round_}-{number}"
                runs.setdefault((server.name, label), []).append(
                    load(
                        server,
                        lua,
                        *args,
                        tag,
                        seconds=options.seconds,
                        connections=options.connections,
                    )
                )
    return runs


def _takes_part(server: Server, label: str) -> bool:
    """The services run every scenario; each reference, those it is built for."""
    return server.name not in REFERENCES or label in REFERENCES[server.name][1]


def _token_read_on_replica(service: Server) -> str:
    """The token of a write to `service`, once a read that sends it back and one that sends
    none have each been served by the replica (else the run stops: nothing to measure)."""
    body = json.dumps({"name": "Bench User", "email": f"bench-{uuid.uuid4().hex}@example.com"})
    write = urllib.request.Request(
        f"{service.base_url}/users/", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(write, timeout=10) as response:
        token: str | None = response.headers[TOKEN]
    if token is None:
        sys.exit(f"{service.name}: a write's response has no {TOKEN}")
    deadline = time.monotonic() + 30
    while not (_read_on_replica(service, token) and _read_on_replica(service)):
        if time.monotonic() > deadline:
            sys.exit(
                f"{service.name}: reads were not served by the replica within 30 s "
                f"(db_reads_total at {service.base_url}/metrics); measuring it would measure "
                "the primary"
            )
        time.sleep(0.2)
    return token


def _read_on_replica(service: Server, token: str | None = None) -> bool:
    """Whether one GET (with `token`) was served by the replica; nothing else reads meanwhile."""
    before = _replica_reads(service)
    headers = {TOKEN: token} if token else {}
    urllib.request.urlopen(
        urllib.request.Request(f"{service.base_url}/users/1", headers=headers), timeout=10
    ).close()
    return _replica_reads(service) > before


def _replica_reads(service: Server) -> float:
    return sum(count for target, count in _reads(service).items() if target != "primary")


def _reads(service: Server) -> dict[str, float]:
    """`db_reads_total` by target (`primary`, or a replica's URL) on the service's /metrics."""
    with urllib.request.urlopen(f"{service.base_url}/metrics", timeout=10) as response:
        families = text_string_to_metric_families(response.read().decode())
        return {
            sample.labels["target"]: sample.value
            for family in families
            for sample in family.samples
            if sample.name == "db_reads_total"
        }


def _report(options: argparse.Namespace, runs: Runs) -> None:
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
        present = [name for name in names if (name, label) in loads]
        _table([(name, loads[name, label]) for name in present], width=20)
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


def _report_replicas(options: argparse.Namespace, runs: Runs, replica_share: float) -> None:
    print(
        "\nGET /users/{id}, read replicas: a primary and a streaming replica of the run's own, "
        f"{options.users} users loaded"
    )
    rows = [(ON_PRIMARY, "GET"), (ON_REPLICA, "GET"), (ON_REPLICA, WITH_TOKEN)]
    _table([(f"{name}: {label}", median_load(runs[name, label])) for name, label in rows], 42)
    print(f"  the replica served {replica_share:.1%} of the replica service's reads")
    through = _ratio(runs, (ON_REPLICA, "GET"), (ON_PRIMARY, "GET"))
    print(f"  GET through a replica: {through:.2f}× GET on the primary")
    check = _ratio(runs, (ON_REPLICA, WITH_TOKEN), (ON_REPLICA, "GET"))
    cpu = (
        median_load(runs[ON_REPLICA, WITH_TOKEN]).cpu_us_per_request
        - median_load(runs[ON_REPLICA, "GET"]).cpu_us_per_request
    )
    print(
        f"  the token check: {check:.2f}× the same GET without a token "
        f"({cpu:.0f} µs of CPU per read)"
    )


def _table(rows: list[tuple[str, Load]], width: int) -> None:
    print(f"  {'':{width}}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
    for name, run in rows:
        print(
            f"  {name:{width}}{run.per_second:8.0f}{run.p50_ms:9.2f}{run.p99_ms:9.2f}"
            f"{run.cpu_us_per_request:12.0f}{run.non_2xx + run.socket_errors:8d}"
        )


def _throughput_ratio(runs: Runs, label: str, reference: str) -> float:
    """The service's req/s over `reference`'s, in `label`."""
    return _ratio(runs, ("service", label), (reference, label))


def _ratio(runs: Runs, run: tuple[str, str], reference: tuple[str, str]) -> float:
    """`run`'s req/s over `reference`'s: the median of the two's ratio in each round."""
    pairs = zip(runs[run], runs[reference], strict=True)
    return statistics.median(one.per_second / other.per_second for one, other in pairs)


def _verdict(label: str, runs: Runs, loads: dict[tuple[str, str], Load]) -> str:
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
