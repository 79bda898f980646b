"""The background jobs page for administrators: dead jobs with a Retry button, and the queue."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.roles import Caller
from opsdesk.core import job_admin
from opsdesk.core.errors import OpsdeskError
from opsdesk.web.common import (
    EMPTY,
    _clock,
    _db,
    _flash,
    _format_time,
    _redirect,
    _render,
    admin_for_page,
    admin_for_post,
)

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
SHOWN_STATES = ("dead", "ready", "running")
STATE_LABELS = {"dead": "Dead", "ready": "Waiting", "running": "Running", "done": "Done"}


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    attempts: str
    due: str
    finished: str
    worker: str
    error: str


@router.get("/admin/jobs")
async def jobs_page(request: Request) -> Response:
    state = request.query_params.get("state", "dead")
    if state not in SHOWN_STATES:
        state = "dead"
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        found = await job_admin.list_jobs(
            session, state=state, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
        )
        counts = await job_admin.count_jobs(session)
    rows = [
        JobRow(
            id=job.id,
            kind=job.kind,
            attempts=f"{job.attempts} of {job.max_attempts}",
            due=_format_time(job.due_at),
            finished=_format_time(job.finished_at),
            worker=job.claimed_by or EMPTY,
            error=job.last_error or EMPTY,
        )
        for job in found[:PER_PAGE]
    ]
    return _render(
        request,
        "jobs.html",
        {
            "state": state,
            "tabs": [
                {
                    "state": key,
                    "label": STATE_LABELS[key],
                    "count": counts[key],
                    "url": "/admin/jobs?" + urlencode({"state": key}),
                }
                for key in SHOWN_STATES
            ],
            "rows": rows,
            "page": page,
            "previous_url": (
                "/admin/jobs?" + urlencode({"state": state, "page": page - 1}) if page > 1 else None
            ),
            "next_url": (
                "/admin/jobs?" + urlencode({"state": state, "page": page + 1})
                if len(found) > PER_PAGE
                else None
            ),
            "done_count": counts["done"],
        },
        caller=caller,
    )


@router.post("/admin/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            job = await job_admin.retry_dead(session, job_id=job_id, now=_clock(request).now())
        except OpsdeskError as exc:
            _flash(request, f"Job {job_id} was not retried: {exc.message}", kind="error")
            return _redirect("/admin/jobs?state=dead")
        message = f"Job {job.id} ({job.kind}) will run again shortly."
    _flash(request, message)
    return _redirect("/admin/jobs?state=dead")
