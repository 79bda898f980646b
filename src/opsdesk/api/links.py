"""Incident link routes under ``/api/v1/incidents/{number}/links``: translation only."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, StaffCaller
from opsdesk.core.bounds import RowId
from opsdesk.relations import links
from opsdesk.relations.link_schemas import LinkCreate, LinkedIncidentOut, LinkOut, LinksOut

router = APIRouter(prefix="/api/v1/incidents", tags=["links"])


def link_out(view: links.LinkView) -> LinkOut:
    return LinkOut.model_validate(asdict(view))


def linked_out(view: links.LinkedIncident) -> LinkedIncidentOut:
    return LinkedIncidentOut.model_validate(asdict(view))


@router.get("/{number}/links", response_model=LinksOut)
async def list_links(number: str, caller: CurrentCaller, db: DB) -> LinksOut:
    """Links in both directions, the parent and the children: only those the caller may see."""
    async with db.read() as session:
        found = await links.list_links(session=session, caller=caller, number=number)
    return LinksOut(
        number=found.number,
        links=[link_out(view) for view in found.links],
        parent=None if found.parent is None else linked_out(found.parent),
        children=[linked_out(child) for child in found.children],
    )


@router.post("/{number}/links", status_code=201, response_model=LinkOut)
async def add_link(
    number: str, body: LinkCreate, caller: StaffCaller, db: DB, clock: ClockDep
) -> LinkOut:
    """Link two incidents (staff). ``parent``/``child`` set the parent (``replace`` to change
    one); the others add a link row, which ``DELETE …/links/{id}`` removes."""
    async with db.write() as session:
        view = await links.add_link(
            session=session,
            caller=caller,
            number=number,
            kind=body.kind,
            other_number=body.number,
            now=clock.now(),
            replace=body.replace,
        )
    return link_out(view)


@router.delete("/{number}/links/parent", status_code=204)
async def clear_parent(number: str, caller: StaffCaller, db: DB, clock: ClockDep) -> Response:
    """Remove the incident's parent (staff); 404 when it has none."""
    async with db.write() as session:
        await links.clear_parent(session=session, caller=caller, number=number, now=clock.now())
    return Response(status_code=204)


@router.delete("/{number}/links/{link_id}", status_code=204)
async def remove_link(
    number: str, link_id: RowId, caller: StaffCaller, db: DB, clock: ClockDep
) -> Response:
    """Remove a link of the incident, from either end (staff)."""
    async with db.write() as session:
        await links.remove_link(
            session=session, caller=caller, number=number, link_id=link_id, now=clock.now()
        )
    return Response(status_code=204)
