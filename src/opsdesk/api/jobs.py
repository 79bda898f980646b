"""Routes for administrators: background jobs by state, and retrying dead ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from opsdesk.api.deps import ADMIN_ONLY, DB, ClockDep, CurrentCaller
from opsdesk.auth.roles import Role
from opsdesk.auth.service import require_role
from opsdesk.core import job_admin, jobs
from opsdesk.core.bounds import MAX_PAGE, RowId
from opsdesk.core.pagination import MAX_PER_PAGE

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[ADMIN_ONLY])


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    payload: dict[str, Any]
    state: str
    due_at: datetime
    attempts: int
    max_attempts: int
    last_error: str | None = Field(
        description="Why the last try failed, or why a done job was skipped (truncated)"
    )
    claimed_by: str | None = Field(description="The worker running it (hostname:pid)")
    claim_expires_at: datetime | None
    dedupe_key: str | None
    created_at: datetime
    finished_at: datetime | None


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = Field(description="Jobs in each state (of the kind, if given)")


@router.get("/jobs", response_model=JobPage)
async def list_jobs(
    caller: CurrentCaller,
    db: DB,
    state: Literal["ready", "running", "done", "dead"] = "dead",
    kind: Annotated[str | None, Query(max_length=jobs.KIND_MAX)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> JobPage:
    require_role(caller, Role.ADMIN)
    async with db.read() as session:
        items = await job_admin.list_jobs(
            session, state=state, kind=kind, limit=per_page, offset=(page - 1) * per_page
        )
        counts = await job_admin.count_jobs(session, kind=kind)
    return JobPage(
        items=[JobOut.model_validate(job) for job in items],
        total=counts[state],
        page=page,
        per_page=per_page,
        counts=counts,
    )


@router.post("/jobs/{job_id}/retry", response_model=JobOut)
async def retry_job(job_id: RowId, caller: CurrentCaller, db: DB, clock: ClockDep) -> JobOut:
    """Give a dead job a fresh set of tries, due now."""
    require_role(caller, Role.ADMIN)
    async with db.write() as session:
        job = await job_admin.retry_dead(session, job_id=job_id, now=clock.now())
        return JobOut.model_validate(job)
