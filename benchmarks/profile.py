"""`make profile`: where the service's CPU goes under the benchmark's load, next to the SQLAlchemy
floor's (the same statements through SQLAlchemy Core, straight from the route).

    python -m benchmarks.profile [--seconds 15]

For both under GET and POST: CPU per request split into user and kernel time, context switches
per request (also for the service without its access log: USERS_LOG_LEVEL=WARNING), and µs per
request of GIL-holding time (py-spy samples) by the innermost frame's package. Needs py-spy (a
dev dependency) and permission to attach.
"""

import collections
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    TICKS_PER_SECOND,
    Server,
    argument_parser,
    floor,
    load,
    require_tool,
    service_on,
    users_database,
)

USERS = 10_000
RATE = 250  # py-spy samples per second
# First match wins: a sample is charged to the innermost frame's bucket, by module path.
BUCKETS = [
    ("database driver (psycopg2)", ("psycopg2/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("the service's own code", ("(users/",)),
    ("dependency-injector", ("dependency_injector/",)),
    ("logging", ("logging/",)),
    ("pydantic (validation, JSON)", ("pydantic",)),
    ("FastAPI and Starlette", ("fastapi/", "starlette/")),
    ("thread pool hand-offs", ("anyio/", "threading.py", "concurrent/", "queue.py")),
    ("uvicorn, event loop", ("uvicorn/", "asyncio/", "uvloop", "httptools")),
]


@dataclass(frozen=True)
class Costs:
    user_us: float
    kernel_us: float
    switches: float


def main() -> None:
    options = argument_parser(__doc__, repeats=None).parse_args()
    require_tool("wrk", "wrk")
    spy = str(Path(sys.executable).parent / "py-spy")
    with (
        users_database("profile", USERS) as (_, database),
        service_on(database) as service,
        service_on(database, "… no access log", log_level="WARNING") as quiet,
        floor("sqlalchemy", database, "SQLAlchemy floor") as reference,
    ):
        for lua in ("get", "post"):
            servers = (service, reference)
            costs = {
                server.name: _costs(server, lua, options.seconds)
                for server in (service, quiet, reference)
            }
            buckets = {
                server.name: _profile(spy, server, lua, options.seconds) for server in servers
            }
            _report(lua.upper(), costs, buckets)


def _args(lua: str) -> list[str]:
    return [str(USERS)] if lua == "get" else [f"profile-{uuid.uuid4().hex[:8]}"]


def _costs(server: Server, lua: str, seconds: int) -> Costs:
    before = _readings(server.pid)
    requests = load(server, lua, *_args(lua), seconds=seconds, connections=32).requests
    after = _readings(server.pid)
    user, kernel = after[0] - before[0], after[1] - before[1]
    # Threads come and go (the thread pool retires idle ones): count those alive at the end.
    switches = sum(count - before[2].get(task, 0) for task, count in after[2].items())
    return Costs(
        user_us=user / TICKS_PER_SECOND / requests * 1e6,
        kernel_us=kernel / TICKS_PER_SECOND / requests * 1e6,
        switches=switches / requests,
    )


def _readings(pid: int) -> tuple[int, int, dict[str, int]]:
    """User and kernel CPU ticks of the process, and context switches of each of its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    switches = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        lines = (task / "status").read_text().splitlines()
        switches[task.name] = sum(int(line.split()[1]) for line in lines if "ctxt_switches" in line)
    return int(fields[11]), int(fields[12]), switches


def _profile(spy: str, server: Server, lua: str, seconds: int) -> dict[str, float]:
    """µs per request during which each bucket's code held the GIL, while `server` is loaded."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as output:
        command = [spy, "record", "--pid", str(server.pid), "--gil", "--nonblocking"]
        recorder = subprocess.Popen(
            [
                *command,
                "--rate",
                str(RATE),
                "--duration",
                str(seconds),
                "--format",
                "raw",
                "-o",
                output.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The load outlasts the recording by a second on each side.
        requests = load(server, lua, *_args(lua), seconds=seconds + 2, connections=32).requests
        recorder.wait(timeout=60)
        samples: collections.Counter[str] = collections.Counter()
        for line in Path(output.name).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples[_bucket(stack.split(";")[-1])] += int(count)
    recorded_requests = requests * seconds / (seconds + 2)
    return {bucket: count / RATE / recorded_requests * 1e6 for bucket, count in samples.items()}


def _bucket(frame: str) -> str:
    for name, markers in BUCKETS:
        if any(marker in frame for marker in markers):
            return name
    return "other (interpreter, standard library)"


def _report(label: str, costs: dict[str, Costs], buckets: dict[str, dict[str, float]]) -> None:
    print(f"\n{label}: CPU per request    user µs  kernel µs  context switches")
    for name, cost in costs.items():
        print(f"  {name:22}{cost.user_us:11.0f}{cost.kernel_us:11.0f}{cost.switches:18.1f}")
    names = list(buckets)
    print(f"  µs per request holding the GIL, by the innermost frame: {' / '.join(names)}")
    order = sorted({bucket for shares in buckets.values() for bucket in shares})
    for bucket in sorted(order, key=lambda bucket: -buckets[names[0]].get(bucket, 0)):
        figures = "".join(f"{buckets[name].get(bucket, 0.0):8.0f}" for name in names)
        print(f"  {figures}  {bucket}")
    totals = "".join(f"{sum(buckets[name].values()):8.0f}" for name in names)
    print(f"  {totals}  in all")


if __name__ == "__main__":
    main()
