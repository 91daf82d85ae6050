"""`make soak`: about 100k mixed requests at the running service; errors, latency and memory.

    python -m benchmarks.soak [--requests 100000] [--connections 32]

Every request of the mix (reads, registrations, renames, pages, look-ups by address, deletes)
is one the contract answers with a 2xx, so any non-2xx counts as an error.
"""

import argparse
import math
import threading
import time
import uuid

from benchmarks.harness import Load, load, require_tool, rss_mib, service_on, users_database

STABLE_USERS = 10_000
DELETABLE_USERS = 20_000
WARM_UP_SECONDS = 10


def main() -> None:
    options = _arguments()
    require_tool("wrk", "wrk")
    run = uuid.uuid4().hex[:8]
    with (
        users_database("soak", STABLE_USERS + DELETABLE_USERS) as (_, database),
        service_on(database) as service,
    ):
        half = DELETABLE_USERS // 2
        warm = load(
            service,
            "soak",
            *_args(STABLE_USERS + 1, half, f"warm-{run}"),
            seconds=WARM_UP_SECONDS,
            connections=options.connections,
        )
        # A little over, so that the run reaches the count even if the rate dips.
        seconds = math.ceil(1.05 * options.requests / warm.per_second)
        print(f"warm-up: {warm.per_second:.0f} req/s; soaking for {seconds} s", flush=True)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(service.pid, samples, stop), daemon=True)
        sampler.start()
        soak = load(
            service,
            "soak",
            *_args(STABLE_USERS + 1 + half, half, f"soak-{run}"),
            seconds=seconds,
            connections=options.connections,
        )
        stop.set()
        sampler.join()
    _report(soak, samples)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000, help="about how many to send")
    parser.add_argument("--connections", type=int, default=32, help="wrk's closed loop")
    return parser.parse_args()


def _args(first_deletable: int, deletable: int, prefix: str) -> list[str]:
    return [str(STABLE_USERS), str(first_deletable), str(deletable), prefix]


def _sample(pid: int, samples: list[tuple[float, float]], stop: threading.Event) -> None:
    started = time.monotonic()
    while True:
        samples.append((time.monotonic() - started, rss_mib(pid)))
        if stop.wait(5):
            samples.append((time.monotonic() - started, rss_mib(pid)))
            return


def _report(soak: Load, samples: list[tuple[float, float]]) -> None:
    start, end = samples[0][1], samples[-1][1]
    growth = 100 * (end / start - 1)
    errors = soak.non_2xx + soak.socket_errors
    print(f"\nrequests {soak.requests}, errors {errors} ({soak.non_2xx} non-2xx)")
    print(f"{soak.per_second:.0f} req/s, p50 {soak.p50_ms:.2f} ms, p99 {soak.p99_ms:.2f} ms")
    print("server RSS (MiB) over time: " + ", ".join(f"{t:.0f}s {m:.1f}" for t, m in samples))
    print(
        f"\nsummary: {soak.requests} requests, {errors} errors, p50 {soak.p50_ms:.2f} ms, "
        f"p99 {soak.p99_ms:.2f} ms, RSS {start:.1f} → {end:.1f} MiB ({growth:+.1f}%)"
    )


if __name__ == "__main__":
    main()
