"""The use cases: what a caller can do with users, whatever the store or the transport."""

from dataclasses import dataclass

from users.domain.errors import UserNotFound
from users.domain.model import Email, NewUser, User, UserChanges, parse_name
from users.domain.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class UserPage:
    """One page of users in id order; `next_after` is the cursor of the next page, if any."""

    items: list[User]
    next_after: int | None


class UserService:
    """Registers, reads, lists, updates and deletes users, one unit of work per call."""

    def __init__(self, *, unit_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def register(self, *, name: str, email: Email) -> User:
        """Register a new user; raise `EmailAlreadyRegistered` if the address is taken."""
        new_user = NewUser(name=parse_name(name), email=email, created_at=self._clock())
        with self._unit_of_work() as uow:
            user = uow.users.add(new_user)
            uow.commit()
        return user

    def get(self, *, user_id: int) -> User:
        """The user with this id; raise `UserNotFound` if there is none."""
        with self._unit_of_work(read_only=True) as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound(user_id)
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

    def update(self, *, user_id: int, name: str | None = None, email: Email | None = None) -> User:
        """Change the name and/or email; raise `UserNotFound` or `EmailAlreadyRegistered`."""
        changes = UserChanges(
            updated_at=self._clock(),
            name=None if name is None else parse_name(name),
            email=email,
        )
        with self._unit_of_work() as uow:
            user = uow.users.update(user_id, changes)
            uow.commit()
        if user is None:
            raise UserNotFound(user_id)
        return user

    def delete(self, *, user_id: int) -> None:
        """Delete the user; raise `UserNotFound` if there is none."""
        with self._unit_of_work() as uow:
            removed = uow.users.remove(user_id)
            uow.commit()
        if not removed:
            raise UserNotFound(user_id)
