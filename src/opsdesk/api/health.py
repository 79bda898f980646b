"""``GET /healthz``: is the process up and can it reach its database?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from opsdesk.api.deps import DB
from opsdesk.api.error_boundary import RETRY_AFTER_S

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(db: DB) -> JSONResponse:
    try:
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse(
            {"status": "error", "database": "unreachable", "detail": type(exc).__name__},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return JSONResponse({"status": "ok", "database": db.dialect})
