"""A later build of the service, as a rolling upgrade meets it: this build's code, with
`users.name` renamed to `full_name` in two steps (`0005` expand, `0006` contract).

The tests assemble it in a directory of their own and run it by putting that directory first on
`PYTHONPATH`; the steps are the ones `docs/schema-changes.md` walks through.
"""

import shutil
from pathlib import Path

SOURCE = Path(__file__).parents[3] / "src" / "users"
STEPS = sorted(Path(__file__).parent.glob("000*.py"))
# The later build reads and writes the new column under the attribute the code already uses.
RENAMED = (
    'Column("name", String(NAME_MAX_LENGTH), nullable=False),',
    'Column("full_name", String(NAME_MAX_LENGTH), key="name", nullable=False),',
)
EXPAND, CONTRACT = "0005", "0006"


def assemble(directory: Path) -> dict[str, str]:
    """Write the later build into `directory`; the variables that run `users-api` as it."""
    package = directory / "users"
    shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns("__pycache__"))
    for step in STEPS:
        shutil.copy(step, package / "adapters" / "sql" / "migrations" / "versions")
    tables = package / "adapters" / "sql" / "tables.py"
    source = tables.read_text()
    assert RENAMED[0] in source, "tables.py declares users.name differently: update RENAMED"
    tables.write_text(source.replace(*RENAMED))
    return {"PYTHONPATH": str(directory)}
