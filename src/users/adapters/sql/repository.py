"""The users in a SQL database, through SQLAlchemy Core: one statement per method."""

from typing import Any, Protocol

from sqlalchemy import (
    CursorResult,
    Executable,
    Row,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from users.adapters.sql.tables import users
from users.domain.model import Email, NewUser, User, UserChanges

# Built once: a request only binds values to statements SQLAlchemy has already compiled.
INSERT = insert(users).returning(users.c.id)
BY_ID = select(users).where(users.c.id == bindparam("user_id"))
BY_EMAIL_KEY = select(users).where(users.c.email_key == bindparam("email_key"))
PAGE = (
    select(users)
    .where(users.c.id > bindparam("after"))
    .order_by(users.c.id)
    .limit(bindparam("limit"))
)
# One statement for any combination of changes: a NULL parameter keeps the stored value.
UPDATE = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(
        name=func.coalesce(bindparam("new_name", type_=users.c.name.type), users.c.name),
        email=func.coalesce(bindparam("new_email", type_=users.c.email.type), users.c.email),
        email_key=func.coalesce(
            bindparam("new_key", type_=users.c.email_key.type), users.c.email_key
        ),
        updated_at=bindparam("new_updated_at", type_=users.c.updated_at.type),
    )
    .returning(*users.c)
)
DELETE = delete(users).where(users.c.id == bindparam("user_id"))


class StatementRunner(Protocol):
    """Runs statements for a repository: the unit of work, which owns connection and transaction."""

    def execute(self, statement: Executable, values: dict[str, Any]) -> CursorResult[Any]: ...


class SqlAlchemyUserRepository:
    """The `UserRepository` port as SQL statements and the mapping of their rows to users."""

    def __init__(self, runner: StatementRunner) -> None:
        self._runner = runner

    def add(self, new_user: NewUser) -> User:
        values = {
            "name": new_user.name,
            "email": new_user.email.address,
            "email_key": new_user.email.key,
            "created_at": new_user.created_at,
            "updated_at": new_user.created_at,
        }
        user_id: int = self._runner.execute(INSERT, values).scalar_one()
        return User(
            id=user_id,
            name=new_user.name,
            email=new_user.email,
            created_at=new_user.created_at,
            updated_at=new_user.created_at,
        )

    def get(self, user_id: int) -> User | None:
        return _user_or_none(self._runner.execute(BY_ID, {"user_id": user_id}).one_or_none())

    def get_by_email(self, email: Email) -> User | None:
        return _user_or_none(
            self._runner.execute(BY_EMAIL_KEY, {"email_key": email.key}).one_or_none()
        )

    def list_page(self, *, after: int, limit: int) -> list[User]:
        return [_user(row) for row in self._runner.execute(PAGE, {"after": after, "limit": limit})]

    def update(self, user_id: int, changes: UserChanges) -> User | None:
        email = changes.email
        values = {
            "user_id": user_id,
            "new_name": changes.name,
            "new_email": None if email is None else email.address,
            "new_key": None if email is None else email.key,
            "new_updated_at": changes.updated_at,
        }
        return _user_or_none(self._runner.execute(UPDATE, values).one_or_none())

    def remove(self, user_id: int) -> bool:
        return self._runner.execute(DELETE, {"user_id": user_id}).rowcount == 1


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=Email(row.email, row.email_key),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _user_or_none(row: Row[Any] | None) -> User | None:
    return None if row is None else _user(row)
