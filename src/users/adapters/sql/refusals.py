"""What a migration refuses to change, and why: nothing is changed, and the message says what to
do. Rows that break a rule of the service are listed, each with the rule (`RowsRefused`)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


class MigrationRefused(Exception):
    """The database is left as it was; the message says why, and what to do."""


@dataclass(frozen=True, slots=True)
class Offence:
    """A stored row that breaks a rule of the service, and which rule."""

    user_id: int
    address: object
    problem: str

    def __str__(self) -> str:
        return f"id {self.user_id}  {self.address!r}  {self.problem}"


class RowsRefused(MigrationRefused):
    """Rows that a migration will not take as they are."""

    def __init__(self, task: str, offences: list[Offence], remedy: str) -> None:
        super().__init__(task)
        self.offences = offences
        self.remedy = remedy

    def __str__(self) -> str:
        rows = "\n".join(f"  {offence}" for offence in self.offences)
        count = len(self.offences)
        return (
            f"{self.args[0]}: {count} row{'s' if count > 1 else ''} break this service's rules\n"
            f"{rows}\nNothing was changed. {self.remedy}"
        )


def same_address(keyed: Iterable[tuple[int, object, str]]) -> list[Offence]:
    """An offence for each (id, address, key) whose key another one shares."""
    ids_by_key: defaultdict[str, list[int]] = defaultdict(list)
    rows = list(keyed)
    for user_id, _, key in rows:
        ids_by_key[key].append(user_id)
    return [
        Offence(user_id, address, f"the same address as id {_others(ids_by_key[key], user_id)}")
        for user_id, address, key in rows
        if len(ids_by_key[key]) > 1
    ]


def _others(ids: list[int], user_id: int) -> str:
    return ", ".join(str(other) for other in ids if other != user_id)
