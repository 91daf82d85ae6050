"""An in-memory store: the faithful fake of the SQL store, and the service's `memory://` store."""

import bisect
import threading
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Self

from users.domain.errors import EmailAlreadyRegistered, StoreUnavailable, WriteInReadOnlyUnit
from users.domain.model import Email, NewUser, User, UserChanges
from users.domain.ports import StoreStatus


class InMemoryStore:
    """The users of one process; units of work take turns on it, one at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reachable = True
        self.last_id = 0
        self.users: dict[int, User] = {}
        self.sorted_ids: list[int] = []
        self.ids_by_key: dict[str, int] = {}

    def status(self) -> StoreStatus:
        """The `StoreProbe` of this store: it has no schema, and answers unless switched off."""
        return StoreStatus.OK if self.reachable else StoreStatus.UNREACHABLE

    def put(self, user: User) -> None:
        if user.id not in self.users:
            bisect.insort(self.sorted_ids, user.id)
        self.users[user.id] = user
        self.ids_by_key[user.email.key] = user.id

    def drop(self, user: User) -> None:
        del self.users[user.id]
        del self.ids_by_key[user.email.key]
        del self.sorted_ids[bisect.bisect_left(self.sorted_ids, user.id)]


class InMemoryUserRepository:
    """The users of an `InMemoryStore`, seen from one unit of work that can undo its writes."""

    def __init__(
        self, store: InMemoryStore, undo_log: list[Callable[[], None]], *, read_only: bool
    ) -> None:
        self._store = store
        self._undo_log = undo_log
        self._read_only = read_only

    def add(self, new_user: NewUser) -> User:
        self._refuse_read_only("add")
        self._refuse_taken(new_user.email, owner_id=None)
        # Like a database sequence, the counter is not rolled back: ids are never reused.
        self._store.last_id += 1
        user = User(
            id=self._store.last_id,
            name=new_user.name,
            email=new_user.email,
            created_at=new_user.created_at,
            updated_at=new_user.created_at,
        )
        self._store.put(user)
        self._undo_log.append(lambda: self._store.drop(user))
        return user

    def get(self, user_id: int) -> User | None:
        return self._store.users.get(user_id)

    def get_by_email(self, email: Email) -> User | None:
        user_id = self._store.ids_by_key.get(email.key)
        return None if user_id is None else self._store.users[user_id]

    def list_page(self, *, after: int, limit: int) -> list[User]:
        start = bisect.bisect_right(self._store.sorted_ids, after)
        return [self._store.users[i] for i in self._store.sorted_ids[start : start + limit]]

    def update(self, user_id: int, changes: UserChanges) -> User | None:
        self._refuse_read_only("update")
        current = self._store.users.get(user_id)
        if current is None:
            return None
        if changes.email is not None:
            self._refuse_taken(changes.email, owner_id=user_id)
        updated = replace(
            current,
            name=current.name if changes.name is None else changes.name,
            email=current.email if changes.email is None else changes.email,
            updated_at=changes.updated_at,
        )
        self._swap(current, updated)
        self._undo_log.append(lambda: self._swap(updated, current))
        return updated

    def remove(self, user_id: int) -> bool:
        self._refuse_read_only("remove")
        user = self._store.users.get(user_id)
        if user is None:
            return False
        self._store.drop(user)
        self._undo_log.append(lambda: self._store.put(user))
        return True

    def _refuse_read_only(self, write: str) -> None:
        if self._read_only:
            raise WriteInReadOnlyUnit(write)

    def _refuse_taken(self, email: Email, *, owner_id: int | None) -> None:
        if self._store.ids_by_key.get(email.key, owner_id) != owner_id:
            raise EmailAlreadyRegistered(email.address)

    def _swap(self, old: User, new: User) -> None:
        self._store.drop(old)
        self._store.put(new)


class InMemoryUnitOfWork:
    """A transaction on an `InMemoryStore`, alone on it; what it does not commit is undone."""

    users: InMemoryUserRepository

    def __init__(self, store: InMemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self._read_only = read_only
        self._undo_log: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        if not self._store.reachable:
            raise StoreUnavailable("the in-memory store is switched off")
        self._store.lock.acquire()
        self._undo_log.clear()
        self.users = InMemoryUserRepository(self._store, self._undo_log, read_only=self._read_only)
        return self

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
            self._store.lock.release()

    def commit(self) -> None:
        self._undo_log.clear()
