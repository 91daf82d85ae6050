"""The framework floor: the service's two benchmarked routes and models, with no database.

Served by `python -m benchmarks.floor_app --port N` exactly as `users-api serve` serves the
service: the same uvicorn, event loop, HTTP parser and route style (`def`, in the thread pool).
"""

import argparse
from datetime import UTC, datetime

from fastapi import FastAPI

from users.domain.model import Email
from users.entrypoints.cli import serve_app
from users.entrypoints.routes import UserId
from users.entrypoints.schemas import UserCreate, UserOut

_MOMENT = datetime(2026, 11, 24, 15, 20, 11, 123456, tzinfo=UTC)
_EMAIL = Email.parse("floor@example.com")


def create_app() -> FastAPI:
    """The two routes, answering from constants."""
    app = FastAPI()

    @app.post("/users/", response_model=UserOut)
    def register_user(user: UserCreate) -> UserOut:
        return UserOut(
            id=1, name=user.name, email=user.email.address, created_at=_MOMENT, updated_at=_MOMENT
        )

    @app.get("/users/{user_id}", response_model=UserOut)
    def get_user(user_id: UserId) -> UserOut:
        return UserOut(
            id=user_id, name="Floor", email=_EMAIL.address, created_at=_MOMENT, updated_at=_MOMENT
        )

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    serve_app("benchmarks.floor_app:create_app", host="127.0.0.1", port=parser.parse_args().port)
