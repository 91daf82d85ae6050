"""Whether a SQL store can serve now, as readiness reports it."""

from sqlalchemy.exc import DBAPIError

from users.adapters.sql.engine import Engines
from users.adapters.sql.errors import SchemaNotCurrent
from users.adapters.sql.readiness import REVISIONS
from users.adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from users.domain.errors import StoreUnavailable
from users.domain.ports import StoreStatus


class SqlStoreProbe:
    """The `StoreProbe` of a SQL database: one query, through a unit of work as any request's
    (so a pooled connection that died while idle is replaced, not reported)."""

    def __init__(self, engines: Engines, expected_revision: str) -> None:
        self._engines = engines
        self._expected = [expected_revision]

    def __call__(self) -> StoreStatus:
        try:
            with SqlAlchemyUnitOfWork(self._engines, read_only=True) as unit:
                revisions = list(unit.execute(REVISIONS, {}).scalars())
        except SchemaNotCurrent:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        except (StoreUnavailable, DBAPIError):
            # Whatever else the database answers (a permission refused, say), it cannot serve.
            return StoreStatus.UNREACHABLE
        if revisions != self._expected:
            return StoreStatus.SCHEMA_OUT_OF_DATE
        return StoreStatus.OK
