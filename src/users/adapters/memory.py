"""An in-memory store: the faithful fake of the SQL store, and the service's `memory://` store."""

import bisect
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Self

from users.domain.errors import (
    EmailAlreadyRegistered,
    UserChanged,
    WriteInReadOnlyUnit,
)
from users.domain.idempotency import KeyRecord, Outcome
from users.domain.model import Email, NewUser, Precondition, User, UserChanges
from users.domain.ports import ReadFigures, StoreStatus

MEMORY_URL = "memory://"
"""The database URL that chooses this store."""
Undo = Callable[[], None]


class InMemoryDatabase:
    """The users of one process; units of work take turns on it, one at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_id = 0
        self.users: dict[int, User] = {}
        self.sorted_ids: list[int] = []
        self.ids_by_key: dict[str, int] = {}
        self.keys: dict[str, KeyRecord] = {}

    def put(self, user: User) -> None:
        """Add `user`; a changed user is dropped first, so its id is never listed twice."""
        bisect.insort(self.sorted_ids, user.id)
        self.users[user.id] = user
        self.ids_by_key[user.email.key] = user.id

    def drop(self, user: User) -> None:
        del self.users[user.id]
        del self.ids_by_key[user.email.key]
        del self.sorted_ids[bisect.bisect_left(self.sorted_ids, user.id)]


class InMemoryUserRepository:
    """The users of an `InMemoryDatabase`, seen from one unit of work that can undo its writes."""

    def __init__(
        self, database: InMemoryDatabase, undo_log: list[Undo], *, read_only: bool
    ) -> None:
        self._database = database
        self._undo_log = undo_log
        self._read_only = read_only

    def add(self, new_user: NewUser) -> User:
        self._refuse_read_only()
        self._refuse_taken(new_user.email, owner_id=None)
        # Like a database sequence, the counter is not rolled back: ids are never reused.
        self._database.last_id += 1
        user = new_user.stored_as(self._database.last_id)
        self._database.put(user)
        self._undo_log.append(lambda: self._database.drop(user))
        return user

    def get(self, user_id: int) -> User | None:
        return self._database.users.get(user_id)

    def get_by_email(self, email: Email) -> User | None:
        user_id = self._database.ids_by_key.get(email.key)
        return None if user_id is None else self._database.users[user_id]

    def list_page(self, *, after: int, limit: int) -> list[User]:
        start = bisect.bisect_right(self._database.sorted_ids, after)
        return [self._database.users[i] for i in self._database.sorted_ids[start : start + limit]]

    def update(
        self, user_id: int, changes: UserChanges, precondition: Precondition | None = None
    ) -> User | None:
        self._refuse_read_only()
        current = self._database.users.get(user_id)
        if current is None:
            return None
        _check(precondition, current)
        if changes.email is not None:
            self._refuse_taken(changes.email, owner_id=user_id)
        updated = replace(
            current,
            name=current.name if changes.name is None else changes.name,
            email=current.email if changes.email is None else changes.email,
            updated_at=changes.updated_at,
            version=current.version + 1,
        )
        self._swap(current, updated)
        self._undo_log.append(lambda: self._swap(updated, current))
        return updated

    def remove(self, user_id: int, precondition: Precondition | None = None) -> bool:
        self._refuse_read_only()
        user = self._database.users.get(user_id)
        if user is None:
            return False
        _check(precondition, user)
        self._database.drop(user)
        self._undo_log.append(lambda: self._database.put(user))
        return True

    def _refuse_read_only(self) -> None:
        if self._read_only:
            raise WriteInReadOnlyUnit()

    def _refuse_taken(self, email: Email, *, owner_id: int | None) -> None:
        if self._database.ids_by_key.get(email.key, owner_id) != owner_id:
            raise EmailAlreadyRegistered()

    def _swap(self, old: User, new: User) -> None:
        self._database.drop(old)
        self._database.put(new)


def _check(precondition: Precondition | None, user: User) -> None:
    if precondition is not None and not precondition.allows(user.version):
        raise UserChanged()


class InMemoryKeyRecords:
    """The idempotency keys of an `InMemoryDatabase`, seen from one unit of work."""

    def __init__(
        self, database: InMemoryDatabase, undo_log: list[Undo], *, read_only: bool
    ) -> None:
        self._records = database.keys
        self._undo_log = undo_log
        self._read_only = read_only

    def claim(self, attempt: KeyRecord, now: datetime) -> KeyRecord | None:
        held = self._records.get(attempt.key)
        if held is not None and held.expires_at > now:
            return held
        self._set(attempt.key, attempt)
        return None

    def finish(self, attempt: KeyRecord, outcome: Outcome, expires_at: datetime) -> bool:
        if not self._holds(attempt):
            return False
        self._set(attempt.key, replace(attempt, outcome=outcome, expires_at=expires_at))
        return True

    def release(self, attempt: KeyRecord) -> None:
        if self._holds(attempt):
            self._set(attempt.key, None)

    def purge(self, now: datetime, limit: int) -> None:
        expired = [record for record in self._records.values() if record.expires_at <= now]
        for record in sorted(expired, key=lambda record: record.expires_at)[:limit]:
            self._set(record.key, None)

    def _holds(self, attempt: KeyRecord) -> bool:
        held = self._records.get(attempt.key)
        return held is not None and held.outcome is None and held.started_at == attempt.started_at

    def _set(self, key: str, record: KeyRecord | None) -> None:
        if self._read_only:
            raise WriteInReadOnlyUnit()
        before = self._records.get(key)
        self._put(key, record)
        self._undo_log.append(lambda: self._put(key, before))

    def _put(self, key: str, record: KeyRecord | None) -> None:
        if record is None:  # only ever a key that is there: what a write or its undo set
            del self._records[key]
        else:
            self._records[key] = record


class InMemoryUnitOfWork:
    """A transaction on an `InMemoryDatabase`, alone on it; what it does not commit is undone."""

    users: InMemoryUserRepository

    def __init__(self, database: InMemoryDatabase, *, read_only: bool) -> None:
        self._database = database
        self._read_only = read_only
        self._undo_log: list[Undo] = []

    def __enter__(self) -> Self:
        self._database.lock.acquire()
        self._undo_log.clear()
        self.users = InMemoryUserRepository(
            self._database, self._undo_log, read_only=self._read_only
        )
        return self

    @property
    def keys(self) -> InMemoryKeyRecords:
        return InMemoryKeyRecords(self._database, self._undo_log, read_only=self._read_only)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            for undo in reversed(self._undo_log):
                undo()
        finally:
            self._undo_log.clear()
            self._database.lock.release()

    def commit(self) -> None:
        self._undo_log.clear()


class InMemoryStore:
    """Users kept in this process's memory: no schema to migrate, no connection to count, and
    gone when the process ends, so served by one process only."""

    one_process_only = True

    def __init__(self) -> None:
        self.database = InMemoryDatabase()

    def unit_of_work(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.database, read_only=read_only)

    def probe(self) -> StoreStatus:
        """It answers as long as the process does."""
        return StoreStatus.OK

    def serving(self) -> AbstractContextManager[None]:
        """No other process shares it: nobody to tell."""
        return nullcontext()

    def migrate(self, *, contract: bool = False) -> tuple[bool, str]:  # noqa: ARG002
        return True, f"store {MEMORY_URL}: users live in this process; nothing to migrate"

    def check_schema(self) -> tuple[bool, str]:
        return self.migrate()

    def connections_in_use(self) -> int:
        """No connections: none in use."""
        return 0

    def reads(self) -> list[ReadFigures]:
        """No replicas: nothing to tell."""
        return []

    def close(self) -> None:
        """Nothing to let go of."""
