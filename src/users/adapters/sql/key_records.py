"""Idempotency keys in a SQL database: a claim is one upsert, which only an expired record
yields to."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Row, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from users.adapters.sql.repository import StatementRunner
from users.adapters.sql.tables import UtcDateTime, idempotency_keys
from users.domain.errors import Refusal
from users.domain.idempotency import KeyRecord, Outcome
from users.domain.model import Email, User

_keys = idempotency_keys.c
# Every refusal a write can end with, by the name its outcome is kept under.
_REFUSALS = {refusal.kept_as: refusal for refusal in Refusal.__subclasses__()}
_NOW = bindparam("now", type_=UtcDateTime)


def _claim(insert: Callable[..., Any]) -> Executable:  # pragma: no mutate block (run at import)
    # INSERT ... ON CONFLICT is spelled alike, but built apart, by PostgreSQL and SQLite.
    statement = insert(idempotency_keys)
    claim: Executable = statement.on_conflict_do_update(
        index_elements=[_keys.key],
        set_={
            name: statement.excluded[name]
            for name in ("fingerprint", "started_at", "expires_at", "outcome")
        },
        where=_keys.expires_at <= _NOW,
    ).returning(_keys.key)
    return claim


CLAIMS = {"postgresql": _claim(postgresql.insert), "sqlite": _claim(sqlite.insert)}
BY_KEY = select(idempotency_keys).where(_keys.key == bindparam("key"))
# The attempt's own record, still running: its start tells it from a later attempt's.
HELD_BY = and_(
    _keys.key == bindparam("held_key"),
    _keys.started_at == bindparam("held_since", type_=UtcDateTime),
    _keys.outcome.is_(None),
)
FINISH = (
    update(idempotency_keys)
    .where(HELD_BY)
    .values(
        outcome=bindparam("new_outcome", type_=_keys.outcome.type),
        expires_at=bindparam("new_expires_at", type_=UtcDateTime),
    )
)
RELEASE = delete(idempotency_keys).where(HELD_BY)
# Rows another transaction holds are skipped (PostgreSQL), so a purge never waits, nor takes
# part in a deadlock. Expiry is checked again outside the subquery: a record taken over
# meanwhile is kept.
PURGE = delete(idempotency_keys).where(
    _keys.expires_at <= _NOW,
    _keys.key.in_(
        select(_keys.key)
        .where(_keys.expires_at <= _NOW)
        .order_by(_keys.expires_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    ),
)


class SqlAlchemyKeyRecords:
    """The `KeyRecords` port as SQL statements, run in the unit of work's transaction."""

    def __init__(self, runner: StatementRunner, dialect: str) -> None:
        self._runner = runner
        self._claim = CLAIMS[dialect]

    def claim(self, attempt: KeyRecord, now: datetime) -> KeyRecord | None:
        values = {
            "key": attempt.key,
            "fingerprint": attempt.fingerprint,
            "started_at": attempt.started_at,
            "expires_at": attempt.expires_at,
            "now": now,
        }
        if self._runner.execute(self._claim, values).one_or_none() is not None:
            return None
        # The upsert left the record locked (PostgreSQL) or the database (SQLite): it is there.
        return _record(self._runner.execute(BY_KEY, {"key": attempt.key}).one())

    def finish(self, attempt: KeyRecord, outcome: Outcome, expires_at: datetime) -> bool:
        values = _holder(attempt) | {"new_outcome": _encode(outcome), "new_expires_at": expires_at}
        return self._runner.execute(FINISH, values).rowcount == 1

    def release(self, attempt: KeyRecord) -> None:
        self._runner.execute(RELEASE, _holder(attempt))

    def purge(self, now: datetime, limit: int) -> None:
        self._runner.execute(PURGE, {"now": now, "limit": limit})


def _holder(attempt: KeyRecord) -> dict[str, object]:
    return {"held_key": attempt.key, "held_since": attempt.started_at}


def _record(row: Row[Any]) -> KeyRecord:
    return KeyRecord(
        key=row.key,
        fingerprint=row.fingerprint,
        started_at=row.started_at,
        expires_at=row.expires_at,
        outcome=None if row.outcome is None else _decode(row.outcome),
    )


def _encode(outcome: Outcome) -> str:
    if outcome.user is None:
        assert outcome.refusal is not None, "an outcome is a user or a refusal"
        return json.dumps({"refusal": outcome.refusal.kept_as})
    user = outcome.user
    return json.dumps(
        {
            "user": {
                "id": user.id,
                "name": user.name,
                "email": user.email.address,
                "email_key": user.email.key,
                "created_at": user.created_at.isoformat(),
                "updated_at": user.updated_at.isoformat(),
                "version": user.version,
            }
        }
    )


def _decode(stored: str) -> Outcome:
    outcome = json.loads(stored)
    if "refusal" in outcome:
        return Outcome(refusal=_REFUSALS[outcome["refusal"]])
    user = outcome["user"]
    return Outcome(
        user=User(
            id=user["id"],
            name=user["name"],
            email=Email(user["email"], user["email_key"]),
            created_at=datetime.fromisoformat(user["created_at"]),
            updated_at=datetime.fromisoformat(user["updated_at"]),
            version=user["version"],
        )
    )
