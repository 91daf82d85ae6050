"""Readiness and liveness, for load balancers and orchestrators: open to every caller."""

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from users.domain.ports import StoreStatus
from users.entrypoints.http.dependencies import parts
from users.entrypoints.http.schemas import HealthDownOut, HealthOut, LiveOut

router = APIRouter(prefix="/health")


@router.get(
    "",
    response_model=HealthOut,
    responses={
        503: {
            "model": HealthDownOut,
            "description": "The database does not answer (`unreachable`), its schema is not the "
            "revision this build expects (`schema out of date`), or the process is shutting "
            "down (`not checked`)",
        }
    },
)
def readiness(request: Request) -> Response:
    """Whether the service can serve users now: its database answers, with the schema
    this build expects."""
    serving = parts(request)
    if serving.drain.draining:
        return _unready("not checked", "Shutting down")
    database = serving.store().probe()
    if database is StoreStatus.OK:
        return JSONResponse({"status": "ok", "database": database})
    return _unready(database, "Database unavailable")


@router.get("/live", response_model=LiveOut)
async def liveness() -> LiveOut:
    """Whether the process answers at all; touches no database, waits for no thread."""
    return LiveOut(status="ok")


def _unready(database: str, detail: str) -> Response:
    return JSONResponse(
        {"status": "unavailable", "database": database, "detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
