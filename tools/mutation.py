"""How strong the tests are: mutation testing of the domain and the adapters (`make mutation`).

    python -m tools.mutation

mutmut (3.x, configured in pyproject.toml's [tool.mutmut]) copies src/ to mutants/, makes one
small change at a time in the files it names (`<` for `<=`, `+ 2` for `+ 1`, an argument
dropped, a string changed) and runs the tests that reach the changed function: the unit layer
and the repository contract suites on the fake, SQLite and PostgreSQL. A mutant that no test
fails survived. This prints each survivor, then one score per folder, killed / (mutants -
equivalent), and exits 1 when a folder is below FLOOR or an entry of EQUIVALENTS no longer
matches its mutant.

An equivalent mutant changes the code but not what it does, so no test can fail on it. Each is
listed in EQUIVALENTS with the change (a piece of its mutated line) and why it changes nothing;
an entry whose change is gone (the code moved on) is reported for review, not skipped.

Without USERS_TEST_DATABASE_URL one PostgreSQL is started for the whole run: each mutant's tests
run in a process of their own, and would otherwise each start a server.
"""

import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
from tests.postgres import SERVER_VARIABLE, postgres_server

FLOOR = 90.0
FOLDERS = ("domain", "adapters")
EQUIVALENTS = Path("tests/equivalent_mutants.toml")
WORKSPACE = Path("mutants")


@dataclass(frozen=True)
class Mutant:
    name: str
    status: str
    path: Path

    @property
    def folder(self) -> str:
        """`domain` for `users.domain.model.x_parse_name__mutmut_6`."""
        return self.name.split(".")[1]


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    change: str
    why: str


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    with postgres_server() as server:
        env = os.environ | {SERVER_VARIABLE: server.render_as_string(hide_password=False)}
        run = subprocess.run(  # noqa: S603 (this environment's own mutmut)
            [Path(sys.executable).parent / "mutmut", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    if run.returncode != 0:
        print(run.stdout)
        return run.returncode
    minutes = (time.monotonic() - started) / 60
    return report(mutants(), equivalents(), minutes)


def report(every: list[Mutant], listed: list[Equivalent], minutes: float) -> int:
    by_name = {mutant.name: mutant for mutant in every}
    stale = [entry for entry in listed if not _still_matches(entry, by_name)]
    excused = {entry.mutant for entry in listed} - {entry.mutant for entry in stale}
    survivors = [m for m in every if m.status != "killed" and m.name not in excused]
    for mutant in survivors:
        print(f"{mutant.status}: {mutant.name}")
        print(_changed_lines(mutant), end="\n\n")
    for entry in stale:
        print(f"{EQUIVALENTS}: {entry.mutant} no longer changes {entry.change!r}: review it")
    print(f"{len(every)} mutants in {minutes:.1f} min, {len(excused)} equivalent ({EQUIVALENTS})")
    below = []
    for folder in FOLDERS:
        counted = [m for m in every if m.folder == folder and m.name not in excused]
        killed = Counter(m.status for m in counted)["killed"]
        score = 100 * killed / len(counted) if counted else 100.0
        print(f"mutation score {folder}: {score:.1f} % ({killed} of {len(counted)} killed)")
        if score < FLOOR:
            below.append(folder)
    if below:
        print(f"below the floor of {FLOOR:.0f} %: {', '.join(below)}")
    return 1 if below or stale else 0


def mutants() -> list[Mutant]:
    """Every mutant of the last run and how it ended, as mutmut keeps them in WORKSPACE."""

    every = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in data.exit_code_by_key.items():
            status = "killed" if status_by_exit_code[exit_code] == "timeout" else None
            every.append(Mutant(name, status or status_by_exit_code[exit_code], path))
    return every


def equivalents() -> list[Equivalent]:
    with EQUIVALENTS.open("rb") as reviewed:
        return [Equivalent(**entry) for entry in tomllib.load(reviewed)["equivalent"]]


def _still_matches(entry: Equivalent, by_name: dict[str, Mutant]) -> bool:
    mutant = by_name.get(entry.mutant)
    return mutant is not None and entry.change in _changed_lines(mutant)


def _changed_lines(mutant: Mutant) -> str:
    diff = get_diff_for_mutant(mutant.name, path=mutant.path).splitlines()
    return "\n".join(line for line in diff if line[:1] in "-+" and line[:3] not in ("---", "+++"))


if __name__ == "__main__":
    sys.exit(main())
