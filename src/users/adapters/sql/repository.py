"""The users in a SQL database, through SQLAlchemy Core: one statement per method."""

from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Row,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from users.adapters.sql.tables import users_table
from users.domain.errors import UserChanged
from users.domain.model import Email, NewUser, Precondition, User, UserChanges

# Built once: a request only binds values to statements SQLAlchemy has already compiled.
column = users_table.c
INSERT = insert(users_table).returning(column.id)
BY_ID = select(users_table).where(column.id == bindparam("user_id"))
BY_EMAIL_KEY = select(users_table).where(column.email_key == bindparam("email_key"))
PAGE = (
    select(users_table)
    .where(column.id > bindparam("after"))
    .order_by(column.id)
    .limit(bindparam("limit"))
)
# One statement for any combination of changes: a NULL parameter keeps the stored value.
UPDATE = (
    update(users_table)
    .where(column.id == bindparam("user_id"))
    .values(
        name=func.coalesce(bindparam("new_name", type_=column.name.type), column.name),
        email=func.coalesce(bindparam("new_email", type_=column.email.type), column.email),
        email_key=func.coalesce(
            bindparam("new_key", type_=column.email_key.type), column.email_key
        ),
        updated_at=bindparam("new_updated_at", type_=column.updated_at.type),
        version=column.version + 1,
    )
    .returning(*users_table.c)
)
DELETE = delete(users_table).where(column.id == bindparam("user_id"))
# What a precondition allows, checked by the statement that writes: no one can change the user
# between the check and the write.
ALLOWED_VERSION: ColumnElement[bool] = or_(
    bindparam("any_version"),
    column.version.in_(bindparam("only", type_=column.version.type, expanding=True)),
) & column.version.not_in(bindparam("excluded", type_=column.version.type, expanding=True))
UPDATE_IF_ALLOWED = UPDATE.where(ALLOWED_VERSION)
DELETE_IF_ALLOWED = DELETE.where(ALLOWED_VERSION)


class StatementRunner(Protocol):
    """What a repository runs its statements on: its unit of work's connection, whose failures
    are the domain's errors."""

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
            "updated_at": new_user.updated_at,
        }
        # The column's default is the first version: one value less to send.
        return new_user.stored_as(self._runner.execute(INSERT, values).scalar_one())

    def get(self, user_id: int) -> User | None:
        return _user_or_none(self._runner.execute(BY_ID, {"user_id": user_id}).one_or_none())

    def get_by_email(self, email: Email) -> User | None:
        return _user_or_none(
            self._runner.execute(BY_EMAIL_KEY, {"email_key": email.key}).one_or_none()
        )

    def list_page(self, *, after: int, limit: int) -> list[User]:
        return [_user(row) for row in self._runner.execute(PAGE, {"after": after, "limit": limit})]

    def update(
        self, user_id: int, changes: UserChanges, precondition: Precondition | None = None
    ) -> User | None:
        email = changes.email
        values: dict[str, object] = {
            "user_id": user_id,
            "new_name": changes.name,
            "new_email": None if email is None else email.address,
            "new_key": None if email is None else email.key,
            "new_updated_at": changes.updated_at,
        }
        if precondition is None:
            return _user_or_none(self._runner.execute(UPDATE, values).one_or_none())
        values |= _allowed(precondition)
        updated = _user_or_none(self._runner.execute(UPDATE_IF_ALLOWED, values).one_or_none())
        if updated is None:
            self._refuse_if_present(user_id)
        return updated

    def remove(self, user_id: int, precondition: Precondition | None = None) -> bool:
        if precondition is None:
            return self._runner.execute(DELETE, {"user_id": user_id}).rowcount == 1
        values = {"user_id": user_id} | _allowed(precondition)
        if self._runner.execute(DELETE_IF_ALLOWED, values).rowcount == 1:
            return True
        self._refuse_if_present(user_id)
        return False

    def _refuse_if_present(self, user_id: int) -> None:
        """After a conditional write changed nothing: the user is there, at another version."""
        if self.get(user_id) is not None:
            raise UserChanged()


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=Email(row.email, row.email_key),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _allowed(precondition: Precondition) -> dict[str, object]:
    """The values of `ALLOWED_VERSION` for `precondition`."""
    only = precondition.only
    return {
        "any_version": only is None,
        "only": [] if only is None else sorted(only),
        "excluded": sorted(precondition.excluded),
    }


def _user_or_none(row: Row[Any] | None) -> User | None:
    return None if row is None else _user(row)
