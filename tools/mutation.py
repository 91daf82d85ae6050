"""How strong the tests are: mutation testing of the domain and the adapters (`make mutation`).

    python -m tools.mutation

mutmut (3.x, configured in pyproject.toml's [tool.mutmut]) copies src/ to mutants/, makes one
small change at a time in the files it names (`<` for `<=`, `+ 2` for `+ 1`, an argument
dropped, a string changed) and runs the tests that reach the changed function: the unit layer
and the SQL adapter's in-process tests on SQLite and PostgreSQL. A mutant that no test fails
survived. This prints each survivor, then one score per folder, killed / (mutants -
equivalent), and exits 1 when anything is wrong: a folder below FLOOR or without mutants, a
mutant in neither folder, equivalents past EQUIVALENT_SHARE, or an entry of EQUIVALENTS that
no longer stands.

An equivalent mutant changes the code but not what it does, so no test can fail on it. Each is
listed in EQUIVALENTS with the change (a piece of its mutated line) and why it changes nothing;
an entry whose mutant is gone, killed, or no longer makes that change is reported for review,
not skipped.
"""

import os
import shutil
import subprocess
import sys
import time
import tomllib
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
EQUIVALENT_SHARE = 0.05  # of all mutants, at most
# A mutant whose tests ran out of time was detected: the change made them hang.
DETECTED = frozenset({"killed", "timeout"})
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
    # A server of the run's own: mutmut kills a mutant's tests when they run too long, before
    # they drop the database they made, so the server goes when the run ends.
    with postgres_server(own=True) as server:
        env = os.environ | {SERVER_VARIABLE: server.render_as_string(hide_password=False)}
        mutmut = Path(sys.executable).parent / "mutmut"
        ran = subprocess.run([mutmut, "run"], env=env, check=False)  # noqa: S603 (our own)
    if ran.returncode != 0:
        return ran.returncode
    print()
    return report(mutants(), equivalents(), (time.monotonic() - started) / 60)


def report(every: list[Mutant], listed: list[Equivalent], minutes: float) -> int:
    """Print the survivors, what is wrong with the run, then the scores; 1 if anything is."""
    by_name = {mutant.name: mutant for mutant in every}
    stale = [entry for entry in listed if not _still_equivalent(entry, by_name)]
    excused = {entry.mutant for entry in listed} - {entry.mutant for entry in stale}
    for mutant in every:
        if mutant.name not in excused and mutant.status not in DETECTED:
            print(f"{mutant.status}: {mutant.name}\n{_changed_lines(mutant)}\n")
        elif mutant.status == "timeout":
            print(f"timeout, counted as killed: {mutant.name}")
    wrong = [
        f"{EQUIVALENTS}: {e.mutant} is gone, killed or no longer {e.change!r}: review it"
        for e in stale
    ]
    wrong += [
        f"mutated outside {' and '.join(FOLDERS)}: {m.name}"
        for m in every
        if m.folder not in FOLDERS
    ]
    if len(excused) > EQUIVALENT_SHARE * len(every):
        wrong.append(f"{len(excused)} equivalent mutants: more than {EQUIVALENT_SHARE:.0%} of all")
    scores = {}
    for folder in FOLDERS:
        members = [m for m in every if m.folder == folder and m.name not in excused]
        killed = sum(m.status in DETECTED for m in members)
        scores[folder] = (100 * killed / len(members) if members else 0.0, killed, len(members))
        if scores[folder][0] < FLOOR:
            wrong.append(f"mutation score {folder} is below the floor of {FLOOR:.0f} %")
    for line in wrong:
        print(line)
    print(f"{len(every)} mutants in {minutes:.1f} min, {len(excused)} equivalent ({EQUIVALENTS})")
    for folder, (score, killed, counted) in scores.items():
        print(f"mutation score {folder}: {score:.1f} % ({killed} of {counted} killed)")
    return 1 if wrong else 0


def mutants() -> list[Mutant]:
    """Every mutant of the last run and how it ended, as mutmut keeps them in WORKSPACE."""

    every = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in data.exit_code_by_key.items():
            every.append(Mutant(name, status_by_exit_code[exit_code], path))
    return every


def equivalents() -> list[Equivalent]:
    with EQUIVALENTS.open("rb") as reviewed:
        return [Equivalent(**entry) for entry in tomllib.load(reviewed)["equivalent"]]


def _still_equivalent(entry: Equivalent, by_name: dict[str, Mutant]) -> bool:
    """Whether the mutant is still there, still unkilled, and still makes the listed change."""
    mutant = by_name.get(entry.mutant)
    if mutant is None or mutant.status in DETECTED:
        return False
    added = [line for line in _changed_lines(mutant).splitlines() if line.startswith("+")]
    return any(entry.change in line for line in added)


def _changed_lines(mutant: Mutant) -> str:
    diff = get_diff_for_mutant(mutant.name, path=mutant.path).splitlines()
    return "\n".join(line for line in diff if line[:1] in "-+" and line[:3] not in ("---", "+++"))


if __name__ == "__main__":
    sys.exit(main())
