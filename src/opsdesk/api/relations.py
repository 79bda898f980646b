"""Merge, undo merge and split under ``/api/v1/incidents/{number}``: translation only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.api.deps import DB, ClockDep, Rules, StaffCaller
from opsdesk.api.incidents import IncidentOut, incident_etag, incident_out
from opsdesk.core.bounds import RowId
from opsdesk.core.settings import Settings
from opsdesk.incidents.schemas import Description, Title
from opsdesk.relations import merging, splitting
from opsdesk.relations.merge_rules import MAX_SECONDARIES

router = APIRouter(prefix="/api/v1/incidents", tags=["relations"])

Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secondaries: list[Number] = Field(
        min_length=1,
        max_length=MAX_SECONDARIES,
        description="Numbers of the incidents to merge into this one",
    )
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secondaries: list[Number] = Field(
        default_factory=list,
        max_length=MAX_SECONDARIES,
        description="When {number} is a primary: which merged incidents to restore "
        "(empty: all); when {number} is a merged incident: leave empty",
    )


class UnmergeOut(BaseModel):
    restored: list[IncidentOut]


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    conversation_ids: list[RowId] = Field(default_factory=list, max_length=500)
    attachment_ids: list[RowId] = Field(default_factory=list, max_length=500)


def unmerge_window(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(hours=settings.unmerge_window_hours)


@router.post("/{number}/merge", response_model=IncidentOut)
async def merge_incidents(
    number: str,
    body: MergeIn,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    response: Response,
) -> IncidentOut:
    """Merge ``secondaries`` into incident ``number`` (the primary); returns the primary."""
    async with db.write() as session:
        primary = await merging.merge(
            session=session,
            caller=caller,
            primary_number=number,
            secondary_numbers=body.secondaries,
            now=clock.now(),
            rules=rules,
            comment=body.comment,
        )
    response.headers["ETag"] = incident_etag(primary)
    return incident_out(primary)


@router.post("/{number}/unmerge", response_model=UnmergeOut)
async def unmerge_incidents(
    number: str,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    body: UnmergeIn | None = None,
) -> UnmergeOut:
    """Undo a merge within the window: ``number`` is the merged incident, or the primary
    with ``secondaries`` naming which to restore (none: all merged into it)."""
    async with db.write() as session:
        restored = await merging.unmerge(
            session=session,
            caller=caller,
            number=number,
            now=clock.now(),
            window=unmerge_window(request),
            secondaries=body.secondaries if body is not None else (),
        )
    return UnmergeOut(restored=[incident_out(item) for item in restored])


@router.post("/{number}/split", status_code=201, response_model=IncidentOut)
async def split_incident(
    number: str,
    body: SplitIn,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    response: Response,
) -> IncidentOut:
    """A new incident from a part of ``number`` (copies of the chosen conversation entries
    and attachments), same reporter, linked ``related`` to it."""
    async with db.write() as session:
        created = await splitting.split(
            session=session,
            caller=caller,
            number=number,
            part=splitting.SplitPart(
                title=body.title,
                description=body.description,
                conversation_ids=body.conversation_ids,
                attachment_ids=body.attachment_ids,
            ),
            now=clock.now(),
            rules=rules,
        )
    response.headers["Location"] = f"/api/v1/incidents/{created.number}"
    response.headers["ETag"] = incident_etag(created)
    return incident_out(created)
