"""What adoption and migrations share about stored users: the rows that break a rule of the
service (`Offence`), the refusal that lists them all (`RowsRefused`), and re-keying addresses."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, column, select, table, update

# Only the columns a re-keying touches, so that later revisions may add others.
_users = table("users", column("id"), column("email"), column("email_key"))
_SET_KEY = (
    update(_users).where(_users.c.id == bindparam("row_id")).values(email_key=bindparam("new_key"))
)


@dataclass(frozen=True, slots=True)
class Offence:
    """A stored row that breaks a rule of the service, and which rule."""

    user_id: int
    address: object
    problem: str

    def __str__(self) -> str:
        return f"id {self.user_id}  {self.address!r}  {self.problem}"


class RowsRefused(Exception):
    """Rows that a migration will not take as they are; nothing was changed."""

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


def rekey_emails(connection: Connection, key_of: Callable[[str], str]) -> None:
    """Recompute every row's email key with `key_of`; refuse if two rows would get one key."""
    rows = connection.execute(select(_users.c.id, _users.c.email, _users.c.email_key)).all()
    rekeyed = [(row.id, row.email, key_of(row.email)) for row in rows]
    if offences := same_address(rekeyed):
        raise RowsRefused(
            "cannot recompute the email keys",
            offences,
            "Merge or delete one user of each group, then migrate again.",
        )
    changed = [
        (user_id, key)
        for (user_id, _, key), row in zip(rekeyed, rows, strict=True)
        if key != row.email_key
    ]
    if changed:
        # In two steps, so that no row takes a key that another has not let go of yet.
        # A placeholder has no "@", so it cannot be any address's key.
        connection.execute(
            _SET_KEY, [{"row_id": i, "new_key": f"rekeying {i}"} for i, _ in changed]
        )
        connection.execute(_SET_KEY, [{"row_id": i, "new_key": key} for i, key in changed])


def _others(ids: list[int], user_id: int) -> str:
    return ", ".join(str(other) for other in ids if other != user_id)
