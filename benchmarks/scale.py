"""`make bench-scale`: GET by id, POST and a keyset page near the end, at 10k and at 1M users.

    python -m benchmarks.scale [--seconds 15] [--repeats 3] [--small 10000] [--large 1000000]

Each figure at the large size is compared with the same figure at the small size, measured by
the same running service in the same run; EXPLAIN shows which index each query uses.
"""

import argparse
import uuid
from typing import Any

from sqlalchemy import URL, Select, create_engine
from sqlalchemy.pool import NullPool

from benchmarks.harness import (
    Load,
    Server,
    argument_parser,
    load,
    load_users,
    median_load,
    require_tool,
    service_on,
    users_database,
)
from users.adapters.sql.repository import BY_EMAIL_KEY, BY_ID, PAGE

# The budget this service keeps: how much slower each request may get at the large size.
SLOWDOWN_BOUNDS = {"GET": 1.2, "POST": 1.2, "PAGE": 1.5}


def main() -> None:
    options = _arguments()
    require_tool("wrk", "wrk")
    figures: dict[tuple[str, int], Load] = {}
    with users_database("scale", options.small) as (_, database), service_on(database) as service:
        _measure(service, options.small, options, figures)
        print(f"loading {options.large - options.small} more users…", flush=True)
        load_users(database, options.large - options.small)
        _measure(service, options.large, options, figures)
        plans = _plans(database, options.large)
    _report(options, figures, plans)


def _arguments() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--small", type=int, default=10_000, help="users at first")
    parser.add_argument("--large", type=int, default=1_000_000, help="users after loading")
    return parser.parse_args()


def _measure(
    service: Server, users: int, options: argparse.Namespace, figures: dict[tuple[str, int], Load]
) -> None:
    scenarios = {
        "GET": ("get", [str(users)]),
        "POST": ("post", [f"scale-{users}-{uuid.uuid4().hex[:8]}"]),
        "PAGE": ("page", [str(users)]),
    }
    for label, (lua, args) in scenarios.items():
        runs = []
        for repeat in range(options.repeats):
            print(f"{users} users: {label} run {repeat + 1}/{options.repeats}", flush=True)
            run_args = [*args[:-1], f"{args[-1]}-{repeat}"] if lua == "post" else args
            runs.append(load(service, lua, *run_args, seconds=options.seconds, connections=32))
        figures[label, users] = median_load(runs)


def _plans(database: URL, users: int) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of the service's own statements, at the large size."""
    engine = create_engine(database, poolclass=NullPool)
    statements: dict[str, tuple[Select[Any], dict[str, int | str]]] = {
        "GET by id": (BY_ID, {"user_id": users // 2}),
        "GET by email": (BY_EMAIL_KEY, {"email_key": f"user-{users // 2}@example.com"}),
        "PAGE near the end": (PAGE, {"after": users - 100, "limit": 51}),
    }
    plans = {}
    with engine.connect() as connection:
        for label, (statement, values) in statements.items():
            compiled = statement.compile(dialect=engine.dialect)
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF) " + compiled.string, compiled.construct_params(values)
            )
            plans[label] = [row[0] for row in rows]
    engine.dispose()
    return plans


def _report(
    options: argparse.Namespace,
    figures: dict[tuple[str, int], Load],
    plans: dict[str, list[str]],
) -> None:
    small, large = options.small, options.large
    print(f"\n{'':8}{'req/s':>18}{'p50 ms':>16}{'p99 ms':>16}{'slowdown':>10}{'bound':>7}")
    print(f"{'':8}{small:>9}{large:>9}{small:>8}{large:>8}{small:>8}{large:>8}")
    summary = []
    for label, bound in SLOWDOWN_BOUNDS.items():
        before, after = figures[label, small], figures[label, large]
        slowdown = before.per_second / after.per_second
        print(
            f"{label:8}{before.per_second:9.0f}{after.per_second:9.0f}{before.p50_ms:8.2f}"
            f"{after.p50_ms:8.2f}{before.p99_ms:8.2f}{after.p99_ms:8.2f}{slowdown:9.2f}×{bound:6.1f}×"
        )
        errors = before.non_2xx + before.socket_errors + after.non_2xx + after.socket_errors
        summary.append(
            f"{label} {slowdown:.2f}× ({'within' if slowdown <= bound else 'BEYOND'} {bound}×)"
            + (f", {errors} errors" if errors else "")
        )
    print("\nplans at the large size:")
    for label, lines in plans.items():
        print(f"  {label}:")
        for line in lines:
            print(f"    {line}")
    print(f"\nsummary, {large} vs {small} users: " + "; ".join(summary))


if __name__ == "__main__":
    main()
