"""The use cases: what a caller can do with users, whatever the store or the transport."""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from users.domain.errors import Refusal, RequestInProgress, StoreUnavailable, UserNotFound
from users.domain.idempotency import KeyRecord, Outcome, fingerprint
from users.domain.model import Email, NewUser, Precondition, User, UserChanges, parse_name
from users.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory, UserRepository

# Expired keys are forgotten a few at a time by the requests that bring new ones: no job to
# run, and no request pays for a backlog.
KEYS_PURGED_PER_CLAIM = 100


@dataclass(frozen=True, slots=True)
class UserPage:
    """One page of users in id order; `next_after` is the cursor of the next page, if any."""

    items: list[User]
    next_after: int | None


class UserService:
    """Registers, reads, lists, updates and deletes users, one unit of work per call."""

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        key_lease: timedelta,
        key_retention: timedelta,
    ) -> None:
        """`key_lease`: how long a write holds its idempotency key before another attempt may
        take it over (at least as long as a write can run); `key_retention`: how long an outcome
        is kept for retries."""
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._key_lease = key_lease
        self._key_retention = key_retention

    def register(self, *, name: str, email: Email, key: str | None = None) -> User:
        """Register a new user; raise `EmailAlreadyRegistered` if the address is taken.

        Under an idempotency `key`, the registration happens once: see `_write`.
        """
        new_user = NewUser(name=parse_name(name), email=email, created_at=self._clock())
        request = ("register", new_user.name, email.address)
        return self._write(key, request, lambda users: users.add(new_user))

    def get(self, *, user_id: int) -> User:
        """The user with this id; raise `UserNotFound` if there is none."""
        with self._unit_of_work(read_only=True) as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user

    def find_by_email(self, *, email: Email) -> User | None:
        """The user registered under this address, in any letter case."""
        with self._unit_of_work(read_only=True) as uow:
            return uow.users.get_by_email(email)

    def list_page(self, *, after: int, limit: int) -> UserPage:
        """Up to `limit` users with ids after `after`; the cursor is `None` on the last page."""
        with self._unit_of_work(read_only=True) as uow:
            # One extra row tells whether another page follows, without a count.
            users = uow.users.list_page(after=after, limit=limit + 1)
        if len(users) > limit:
            return UserPage(items=users[:limit], next_after=users[limit - 1].id)
        return UserPage(items=users, next_after=None)

    def update(
        self,
        *,
        user_id: int,
        name: str | None = None,
        email: Email | None = None,
        precondition: Precondition | None = None,
        key: str | None = None,
    ) -> User:
        """Change the name and/or email; raise `UserNotFound`, `EmailAlreadyRegistered`, or
        `UserChanged` when the user is at a version `precondition` does not allow.

        Under an idempotency `key`, the update happens once: see `_write`.
        """
        changes = UserChanges(
            updated_at=self._clock(),
            name=None if name is None else parse_name(name),
            email=email,
        )

        def update(users: UserRepository) -> User:
            user = users.update(user_id, changes, precondition)
            if user is None:
                raise UserNotFound()
            return user

        address = None if email is None else email.address
        request = ("update", user_id, changes.name, address, _asked(precondition))
        return self._write(key, request, update)

    def delete(self, *, user_id: int, precondition: Precondition | None = None) -> None:
        """Delete the user; raise `UserNotFound` if there is none, `UserChanged` as `update`."""
        with self._unit_of_work() as uow:
            removed = uow.users.remove(user_id, precondition)
            uow.commit()
        if not removed:
            raise UserNotFound()

    def _write(
        self, key: str | None, request: tuple[object, ...], write: Callable[[UserRepository], User]
    ) -> User:
        """Run `write` in a unit of work; under an idempotency `key`, see `_write_once`."""
        if key is not None:
            return self._write_once(key, request, write)
        with self._unit_of_work() as uow:
            user = write(uow.users)
            uow.commit()
        return user

    def _write_once(
        self, key: str, request: tuple[object, ...], write: Callable[[UserRepository], User]
    ) -> User:
        """Run `write` once for every request that asks for the same `request` under `key`;
        the others get its outcome again.

        The key is claimed in a transaction of its own, so that a retry arriving meanwhile sees
        it held (`RequestInProgress`). The outcome is kept in the write's own transaction: if
        the write is durable, so is its answer. A refusal (a taken email, a missing or changed
        user) is kept too, as the key's answer; a failure of the store lets go of the key.
        """
        now = self._clock()
        attempt = KeyRecord(key, fingerprint(*request), now, expires_at=now + self._key_lease)
        if (held := self._claim(attempt, now)) is not None:
            return held.answer_to(attempt.fingerprint)
        try:
            with self._unit_of_work() as uow:
                user = write(uow.users)
                self._finish(uow, attempt, Outcome(user=user))
                uow.commit()
        except Refusal as refused:
            # If the store fails here, the key is taken over once its lease runs out instead.
            refusal = Outcome(refusal=type(refused))
            self._if_reachable(lambda uow: self._finish(uow, attempt, refusal))
            raise
        except BaseException:
            # Nothing was written, so a retry may write: the key is let go now, or by its lease.
            self._if_reachable(lambda uow: uow.keys.release(attempt))
            raise
        return user

    def _claim(self, attempt: KeyRecord, now: datetime) -> KeyRecord | None:
        # Purged apart from the claim: a transaction that writes keeps to one key's record.
        with self._unit_of_work() as uow:
            uow.keys.purge(now, KEYS_PURGED_PER_CLAIM)
            uow.commit()
        with self._unit_of_work() as uow:
            held = uow.keys.claim(attempt, now)
            uow.commit()
        return held

    def _finish(self, uow: UnitOfWork, attempt: KeyRecord, outcome: Outcome) -> None:
        if not uow.keys.finish(attempt, outcome, expires_at=self._clock() + self._key_retention):
            # The lease ran out and a retry took the key over: it does the write, not this one.
            raise RequestInProgress()

    def _if_reachable(self, work: Callable[[UnitOfWork], None]) -> None:
        """Do `work` in a unit of work and commit it, unless the store cannot be reached."""
        with suppress(StoreUnavailable), self._unit_of_work() as uow:
            work(uow)
            uow.commit()


def _asked(precondition: Precondition | None) -> object:
    """What a precondition asks, as a fingerprint can take it."""
    if precondition is None:
        return None
    only = None if precondition.only is None else sorted(precondition.only)
    return [only, sorted(precondition.excluded)]
