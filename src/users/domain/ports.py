"""What the domain needs from the outside world, as protocols any adapter can satisfy."""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from users.domain.model import Email, NewUser, User, UserChanges

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware, in UTC."""


class UserRepository(Protocol):
    """The users in a store; every method raises `StoreUnavailable` if the store is unreachable."""

    def add(self, new_user: NewUser) -> User:
        """Store a new user under a fresh id; raise `EmailAlreadyRegistered` for a taken email."""
        ...

    def get(self, user_id: int) -> User | None:
        """The user with this id, if any."""
        ...

    def get_by_email(self, email: Email) -> User | None:
        """The user whose address has the same key as `email`, if any."""
        ...

    def list_page(self, *, after: int, limit: int) -> list[User]:
        """Up to `limit` users with ids greater than `after`, in id order."""
        ...

    def update(self, user_id: int, changes: UserChanges) -> User | None:
        """Apply `changes` and return the user, `None` if there is no such user.

        Raises `EmailAlreadyRegistered` if the new email belongs to another user.
        """
        ...

    def remove(self, user_id: int) -> bool:
        """Delete the user; `False` if there was no such user."""
        ...


class UnitOfWork(Protocol):
    """One transaction on the store: nothing it writes is kept unless `commit()` is called."""

    @property
    def users(self) -> UserRepository:
        """The users, as this unit of work sees them."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the store."""
        ...

    def commit(self) -> None:
        """Make every write of this unit durable, all or nothing."""
        ...


class UnitOfWorkFactory(Protocol):
    """Opens a new unit of work; each request gets its own."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit opened `read_only` may skip the transaction, and refuses every write with
        `WriteInReadOnlyUnit`."""
        ...


class StoreStatus(StrEnum):
    """What a readiness probe found the store to be."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    SCHEMA_OUT_OF_DATE = "schema out of date"


StoreProbe = Callable[[], StoreStatus]
"""Looks at the store now: whether it answers, with the schema this build expects."""
