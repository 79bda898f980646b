"""Stakeholder communication routes: ``/api/v1/status-updates`` (staff),
``/api/v1/status-audiences`` (managers change them), ``/api/v1/status-templates`` and
``/api/v1/status-components`` (administrators change them); translation only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from opsdesk.api.deps import DB, AdminCaller, ClockDep, ManagerCaller, StaffCaller
from opsdesk.core.bounds import PageNumber, RowId
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.core.settings import Settings
from opsdesk.reviews import status_audiences, status_page, status_updates
from opsdesk.reviews.status_schemas import (
    AudienceIn,
    AudienceOut,
    ComponentIn,
    ComponentOut,
    StatusTemplateIn,
    StatusTemplateOut,
    StatusUpdateCreate,
    StatusUpdateOut,
    StatusUpdatePage,
)

updates = APIRouter(prefix="/api/v1/status-updates", tags=["status page"])
audiences = APIRouter(prefix="/api/v1/status-audiences", tags=["status page"])
templates = APIRouter(prefix="/api/v1/status-templates", tags=["status page"])
components = APIRouter(prefix="/api/v1/status-components", tags=["status page"])
routers = (updates, audiences, templates, components)

Key = Annotated[str, Query(min_length=1, max_length=64)]
Number = Annotated[str, Query(min_length=1, max_length=50)]
StateKey = Annotated[str, Path(min_length=1, max_length=32)]
AppKey = Annotated[str, Path(min_length=1, max_length=64)]


def _update_out(view: status_updates.UpdateView) -> StatusUpdateOut:
    return StatusUpdateOut.model_validate(view)


@updates.post("", status_code=201, response_model=StatusUpdateOut)
async def post_update(
    body: StatusUpdateCreate,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    response: Response,
) -> StatusUpdateOut:
    """Post an update on an incident: shown on /status when public, mailed to the chosen
    audiences (one message per recipient), recorded in the incident's history."""
    settings: Settings = request.app.state.settings
    async with db.write() as session:
        view = await status_updates.post_update(
            session=session, caller=caller, data=body, now=clock.now(), settings=settings
        )
    response.headers["Location"] = f"/api/v1/status-updates/{view.id}"
    return _update_out(view)


@updates.get("", response_model=StatusUpdatePage)
async def list_updates(
    caller: StaffCaller,
    db: DB,
    incident: Number | None = None,
    application: Key | None = None,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> StatusUpdatePage:
    """Posted updates, newest first; filter by incident number or application key."""
    async with db.read() as session:
        found = await status_updates.list_updates(
            session=session,
            caller=caller,
            page=PageRequest(page, per_page),
            incident=incident,
            application=application,
        )
    return StatusUpdatePage(
        items=[_update_out(view) for view in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@updates.get("/{update_id}", response_model=StatusUpdateOut)
async def get_update(update_id: RowId, caller: StaffCaller, db: DB) -> StatusUpdateOut:
    async with db.read() as session:
        view = await status_updates.get_update(session=session, caller=caller, update_id=update_id)
    return _update_out(view)


# Audiences: staff read them (the composer offers them), managers and admins change them.


@audiences.get("", response_model=list[AudienceOut])
async def list_audiences(caller: StaffCaller, db: DB) -> list[AudienceOut]:
    async with db.read() as session:
        rows = await status_audiences.list_audiences(session=session, caller=caller)
        return [AudienceOut.model_validate(row) for row in rows]


@audiences.get("/{audience_id}", response_model=AudienceOut)
async def get_audience(audience_id: RowId, caller: StaffCaller, db: DB) -> AudienceOut:
    async with db.read() as session:
        row = await status_audiences.get_audience(
            session=session, caller=caller, audience_id=audience_id
        )
        return AudienceOut.model_validate(row)


@audiences.post("", status_code=201, response_model=AudienceOut)
async def create_audience(
    body: AudienceIn, caller: ManagerCaller, db: DB, clock: ClockDep, response: Response
) -> AudienceOut:
    async with db.write() as session:
        row = await status_audiences.create_audience(
            session=session, caller=caller, data=body, now=clock.now()
        )
        out = AudienceOut.model_validate(row)
    response.headers["Location"] = f"/api/v1/status-audiences/{out.id}"
    return out


@audiences.put("/{audience_id}", response_model=AudienceOut)
async def update_audience(
    audience_id: RowId, body: AudienceIn, caller: ManagerCaller, db: DB, clock: ClockDep
) -> AudienceOut:
    async with db.write() as session:
        row = await status_audiences.update_audience(
            session=session, caller=caller, audience_id=audience_id, data=body, now=clock.now()
        )
        return AudienceOut.model_validate(row)


@audiences.delete("/{audience_id}", status_code=204)
async def delete_audience(audience_id: RowId, caller: ManagerCaller, db: DB) -> Response:
    async with db.write() as session:
        await status_audiences.delete_audience(
            session=session, caller=caller, audience_id=audience_id
        )
    return Response(status_code=204)


# Templates: staff read them (the composer's prefill), administrators edit them.


def _template_out(view: status_audiences.TemplateView) -> StatusTemplateOut:
    return StatusTemplateOut(
        state=view.state,
        subject=view.subject,
        body=view.body,
        message=view.message,
        customized=view.customized,
    )


@templates.get("", response_model=list[StatusTemplateOut])
async def list_templates(caller: StaffCaller, db: DB) -> list[StatusTemplateOut]:
    async with db.read() as session:
        views = await status_audiences.list_templates(session=session, caller=caller)
    return [_template_out(view) for view in views]


@templates.get("/{state}", response_model=StatusTemplateOut)
async def get_template(state: StateKey, caller: StaffCaller, db: DB) -> StatusTemplateOut:
    async with db.read() as session:
        view = await status_audiences.get_template(session=session, caller=caller, state=state)
    return _template_out(view)


@templates.put("/{state}", response_model=StatusTemplateOut)
async def put_template(
    state: StateKey, body: StatusTemplateIn, caller: AdminCaller, db: DB, clock: ClockDep
) -> StatusTemplateOut:
    async with db.write() as session:
        view = await status_audiences.update_template(
            session=session, caller=caller, state=state, data=body, now=clock.now()
        )
    return _template_out(view)


@templates.delete("/{state}", response_model=StatusTemplateOut)
async def reset_template(state: StateKey, caller: AdminCaller, db: DB) -> StatusTemplateOut:
    """Back to the shipped default."""
    async with db.write() as session:
        view = await status_audiences.reset_template(session=session, caller=caller, state=state)
    return _template_out(view)


# Components: the applications on the status page.


def _component_out(view: status_page.ComponentView) -> ComponentOut:
    return ComponentOut(
        application=view.application,
        name=view.name,
        public=view.public,
        display_name=view.display_name,
        override=view.override,
        sort_order=view.sort_order,
        state=view.state,
    )


@components.get("", response_model=list[ComponentOut])
async def list_components(caller: StaffCaller, db: DB) -> list[ComponentOut]:
    """Every application with its status-page settings and current public state."""
    async with db.read() as session:
        views = await status_page.list_components(session=session, caller=caller)
    return [_component_out(view) for view in views]


@components.put("/{application}", response_model=ComponentOut)
async def put_component(
    application: AppKey, body: ComponentIn, caller: AdminCaller, db: DB, clock: ClockDep
) -> ComponentOut:
    """Show an application on /status (or not), its public name, order, a state override."""
    async with db.write() as session:
        view = await status_page.set_component(
            session=session, caller=caller, application=application, data=body, now=clock.now()
        )
    return _component_out(view)
