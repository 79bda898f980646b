"""Saved views under ``/api/v1/views``: translation only (the queue page calls the same service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from opsdesk.api.deps import DB, ClockDep, CurrentCaller
from opsdesk.core.bounds import RowId
from opsdesk.desk import views as service
from opsdesk.desk.models import SavedView

router = APIRouter(prefix="/api/v1/views", tags=["views"])


class ViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=service.NAME_MAX, description="Unique per owner")
    queue: str = Field(
        default="all",
        description="A queue: mine, groups, groups_unassigned, unassigned, breaching, "
        "breached, approval, waiting or all",
    )
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="A COC list body (string_filters, int_filters, condition) as /search "
        "takes it, plus the field 'phase'",
    )
    sort: str | None = Field(
        default=None, description="sla_due_at, -created_at, created_at, -updated_at or level"
    )
    shared: bool = Field(default=False, description="Shown to every staff member")


class ViewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner_id: str
    shared: bool
    queue: str
    filters: dict[str, Any]
    sort: str
    created_at: datetime


def _out(view: SavedView) -> ViewOut:
    return ViewOut.model_validate(view)


@router.get("", response_model=list[ViewOut])
async def list_views(caller: CurrentCaller, db: DB) -> list[ViewOut]:
    async with db.read() as session:
        return [_out(view) for view in await service.list_views(session=session, caller=caller)]


@router.post("", status_code=201, response_model=ViewOut)
async def create_view(body: ViewCreate, caller: CurrentCaller, db: DB, clock: ClockDep) -> ViewOut:
    async with db.write() as session:
        view = await service.create_view(
            session=session,
            caller=caller,
            data=service.ViewInput(
                name=body.name,
                queue=body.queue,
                filters=body.filters,
                sort=body.sort,
                shared=body.shared,
            ),
            now=clock.now(),
        )
        return _out(view)


@router.get("/{view_id}", response_model=ViewOut)
async def get_view(view_id: RowId, caller: CurrentCaller, db: DB) -> ViewOut:
    async with db.read() as session:
        return _out(await service.get_view(session=session, caller=caller, view_id=view_id))


@router.delete("/{view_id}", status_code=204)
async def delete_view(view_id: RowId, caller: CurrentCaller, db: DB) -> Response:
    async with db.write() as session:
        await service.delete_view(session=session, caller=caller, view_id=view_id)
    return Response(status_code=204)
