"""The references the service is measured against: its two benchmarked routes, built plainly.

    python -m benchmarks.floors {framework,driver,sqlalchemy,transaction} --port N

Each serves `GET /users/{id}` and `POST /users/` as FastAPI's documentation teaches: `def`
routes, a request model (a name and a pydantic `EmailStr`), a response model of the five
fields; served exactly as `users-api serve` serves the service (uvicorn, uvloop, httptools,
routes in a thread pool as large as the service's), with no middleware and no access log:
- **framework**: no database; the answers are constants.
- **driver**: one raw psycopg2 statement per request, on a per-thread autocommit connection.
- **sqlalchemy**: the same statement through SQLAlchemy Core, called straight from the route:
  a pooled AUTOCOMMIT engine, statements built once, one `engine.connect()` per request.
- **transaction**: the SQLAlchemy floor with its write in a transaction (`engine.begin()`), as
  a unit of work needs; for POST only, its reads being the SQLAlchemy floor's.

The database ones read `USERS_DATABASE_URL`.
"""

import argparse
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg2
from anyio import to_thread
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr
from sqlalchemy import Connection, Engine, bindparam, create_engine, insert, select

from users.adapters.sql.engine import database_url
from users.adapters.sql.tables import users_table
from users.entrypoints.server.serve import serve
from users.settings import Settings

_MOMENT = datetime(2026, 11, 24, 15, 20, 11, 123456, tzinfo=UTC)
_COLUMNS = "id, name, email, created_at, updated_at"
# Given to the service and to every floor alike: threads a worker runs routes in.
_THREADS = Settings.model_fields["concurrency"].default


class UserCreate(BaseModel):
    name: str
    email: EmailStr


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    created_at: datetime
    updated_at: datetime


FindUser = Callable[[int], UserOut]
AddUser = Callable[[UserCreate, datetime], int]


def _app(find: FindUser, add: AddUser) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = _THREADS
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/users/", response_model=UserOut)
    def register_user(user: UserCreate) -> UserOut:
        now = datetime.now(UTC)
        user_id = add(user, now)
        return UserOut(id=user_id, name=user.name, email=user.email, created_at=now, updated_at=now)

    @app.get("/users/{user_id}", response_model=UserOut)
    def get_user(user_id: int) -> UserOut:
        return find(user_id)

    return app


def framework() -> FastAPI:
    """No database at all: what FastAPI, pydantic and uvicorn cost."""

    def find(user_id: int) -> UserOut:
        return UserOut(
            id=user_id,
            name="Floor",
            email="floor@example.com",
            created_at=_MOMENT,
            updated_at=_MOMENT,
        )

    return _app(find, lambda _user, _now: 1)


def driver() -> FastAPI:
    """One raw psycopg2 statement per request, on this thread's own autocommit connection."""
    dsn = _database().set(drivername="postgresql").render_as_string(hide_password=False)
    local = threading.local()

    def cursor() -> Any:
        if not hasattr(local, "connection"):
            local.connection = psycopg2.connect(dsn)
            local.connection.autocommit = True
        return local.connection.cursor()

    def find(user_id: int) -> UserOut:
        with cursor() as rows:
            rows.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))
            return _user_out(rows.fetchone())

    def add(user: UserCreate, now: datetime) -> int:
        with cursor() as rows:
            rows.execute(
                "INSERT INTO users (name, email, email_key, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (user.name, user.email, user.email.lower(), now, now),
            )
            user_id: int = rows.fetchone()[0]
            return user_id

    return _app(find, add)


def sqlalchemy() -> FastAPI:
    """The same statements through SQLAlchemy Core, straight from the route."""
    engine = _engine(isolation_level="AUTOCOMMIT")
    return _sqlalchemy(engine, engine.connect)


def transaction() -> FastAPI:
    """The SQLAlchemy floor with its write in a transaction, as a unit of work needs: `BEGIN`,
    `INSERT`, `COMMIT`, on a pool of its own (as the service's writes)."""
    return _sqlalchemy(_engine(isolation_level="AUTOCOMMIT"), _engine().begin)


def _sqlalchemy(reads: Engine, writes: Callable[[], AbstractContextManager[Connection]]) -> FastAPI:
    column = users_table.c
    by_id = select(column.id, column.name, column.email, column.created_at, column.updated_at)
    by_id = by_id.where(column.id == bindparam("user_id"))
    add_one = insert(users_table).returning(column.id)

    def find(user_id: int) -> UserOut:
        with reads.connect() as connection:
            return _user_out(connection.execute(by_id, {"user_id": user_id}).one())

    def add(user: UserCreate, now: datetime) -> int:
        values = {
            "name": user.name,
            "email": user.email,
            "email_key": user.email.lower(),
            "created_at": now,
            "updated_at": now,
        }
        with writes() as connection:
            user_id: int = connection.execute(add_one, values).scalar_one()
            return user_id

    return _app(find, add)


def _engine(**mode: Any) -> Engine:
    return create_engine(_database(), pool_size=_THREADS, max_overflow=0, **mode)


def _database() -> Any:
    return database_url(os.environ["USERS_DATABASE_URL"])


def _user_out(row: Any) -> UserOut:
    user_id, name, email, created_at, updated_at = row
    return UserOut(id=user_id, name=name, email=email, created_at=created_at, updated_at=updated_at)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["framework", "driver", "sqlalchemy", "transaction"])
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    serve(f"benchmarks.floors:{arguments.kind}", host="127.0.0.1", port=arguments.port)
