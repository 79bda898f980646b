"""The forms of the Links section on the incident page: add a link or parent/child, remove
a link, remove the parent. Translation only: the rules live in ``relations.links``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.core.errors import OpsdeskError, ValidationFailed
from opsdesk.relations import links
from opsdesk.relations.link_rules import LinkRefused, parse_kind
from opsdesk.web.common import _clock, _db, _text
from opsdesk.web.incident_page import done, posted, refused

router = APIRouter(include_in_schema=False)

FORM_ID = "links"


@router.post("/incidents/{number}/links")
async def add_link(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    other = _text(form, "number").strip()
    try:
        try:
            kind = parse_kind(_text(form, "kind"))
        except LinkRefused as exc:
            raise ValidationFailed(exc.message, field=exc.field) from None
        async with _db(request).write() as session:
            view = await links.add_link(
                session=session,
                caller=caller,
                number=number,
                kind=kind,
                other_number=other,
                now=_clock(request).now(),
                replace=_text(form, "replace") == "yes",
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, FORM_ID, form, exc)
    return done(request, number, f"Linked: {view.label.lower()} {view.incident.number}.")


@router.post("/incidents/{number}/links/parent/remove")
async def clear_parent(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    try:
        async with _db(request).write() as session:
            parent = await links.clear_parent(
                session=session, caller=caller, number=number, now=_clock(request).now()
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, FORM_ID, form, exc)
    return done(request, number, f"Parent {parent} removed.")


@router.post("/incidents/{number}/links/{link_id}/remove")
async def remove_link(request: Request, number: str, link_id: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    try:
        if not link_id.isdigit() or not 0 < int(link_id) < 2**63:
            raise ValidationFailed(f"link_id: no link {link_id!r}", field="link_id")
        async with _db(request).write() as session:
            await links.remove_link(
                session=session,
                caller=caller,
                number=number,
                link_id=int(link_id),
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, FORM_ID, form, exc)
    return done(request, number, "Link removed.")
