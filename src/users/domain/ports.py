"""What the domain needs from the outside world, as protocols any adapter can satisfy."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from users.domain.idempotency import KeyRecord, Outcome
from users.domain.model import Email, NewUser, Precondition, User, UserChanges

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

    def update(
        self, user_id: int, changes: UserChanges, precondition: Precondition | None = None
    ) -> User | None:
        """Apply `changes`, one version later, and return the user; `None` if there is no such
        user.

        Raises `UserChanged` if the user's version is not one `precondition` allows (checked
        and written in one step), `EmailAlreadyRegistered` if the new email belongs to another
        user.
        """
        ...

    def remove(self, user_id: int, precondition: Precondition | None = None) -> bool:
        """Delete the user; `False` if there was no such user, `UserChanged` as in `update`."""
        ...


class KeyRecords(Protocol):
    """Writes sent under an idempotency key and how they ended, each kept until it expires."""

    def claim(self, attempt: KeyRecord, now: datetime) -> KeyRecord | None:
        """Hold `attempt.key` for `attempt`, unless a record unexpired at `now` holds it: then
        that record, and nothing changes."""
        ...

    def finish(self, attempt: KeyRecord, outcome: Outcome, expires_at: datetime) -> bool:
        """Keep `outcome` under the key `attempt` holds until `expires_at`; `False` if the
        attempt no longer holds its key (its lease ran out and another took it)."""
        ...

    def release(self, attempt: KeyRecord) -> None:
        """Forget the key `attempt` holds, unless the attempt finished."""
        ...

    def purge(self, now: datetime, limit: int) -> None:
        """Forget up to `limit` records expired at `now`."""
        ...


class UnitOfWork(Protocol):
    """One transaction on the store: nothing it writes is kept unless `commit()` is called."""

    @property
    def users(self) -> UserRepository:
        """The users, as this unit of work sees them."""
        ...

    @property
    def keys(self) -> KeyRecords:
        """The idempotency keys, in the same transaction as the users."""
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
    """What a look at the store found: whether it answers, with the schema this build expects."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    SCHEMA_OUT_OF_DATE = "schema out of date"


@dataclass(frozen=True, slots=True)
class ReadFigures:
    """Where a store's reads went: the primary, or one of its read replicas."""

    target: str
    reads: int
    fallbacks: int = 0
    """Reads that failed on this replica and were served by the primary."""
    lag_seconds: float | None = None
    """How stale this replica may be now, at most; `None` for the primary."""
    usable: bool = True
