"""The status page: applications shown as components (their state from the open public
incidents, or an override) and what the public page and its feed show.

The public view reads only this feature's public tables and the public applications' names,
never an incident, a note or a person. No caller: it is public.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.catalog.models import Application
from opsdesk.core.errors import NotFound
from opsdesk.reviews.status_feed import Entry
from opsdesk.reviews.status_models import StatusComponent, StatusIncident, StatusUpdate
from opsdesk.reviews.status_rules import (
    COMPONENT_LABELS,
    STATE_LABELS,
    ComponentState,
    UpdateState,
    component_state,
)
from opsdesk.reviews.status_schemas import ComponentIn

PAST_DAYS = 90


# Components -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentView:
    application: str
    name: str
    public: bool
    display_name: str
    override: ComponentState | None
    sort_order: int
    state: ComponentState

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def state_label(self) -> str:
        return COMPONENT_LABELS[self.state]


async def _open_impacts(session: AsyncSession) -> dict[str, list[ComponentState]]:
    rows = await session.execute(
        select(StatusIncident.application, StatusIncident.impact).where(
            StatusIncident.public.is_(True),
            StatusIncident.state != UpdateState.RESOLVED.value,
            StatusIncident.application.is_not(None),
        )
    )
    impacts: dict[str, list[ComponentState]] = {}
    for application, impact in rows:
        impacts.setdefault(str(application), []).append(ComponentState(impact))
    return impacts


async def _components(session: AsyncSession, *, public_only: bool) -> list[ComponentView]:
    query = (
        select(Application, StatusComponent)
        .join(StatusComponent, StatusComponent.application == Application.key, isouter=True)
        .order_by(func.coalesce(StatusComponent.sort_order, 100), Application.name_en)
    )
    if public_only:
        query = query.where(StatusComponent.public.is_(True))
    impacts = await _open_impacts(session)
    views = []
    for application, component in await session.execute(query):
        override = (
            ComponentState(component.override)
            if component is not None and component.override
            else None
        )
        views.append(
            ComponentView(
                application=application.key,
                name=application.name_en,
                public=component is not None and component.public,
                display_name=component.display_name if component is not None else "",
                override=override,
                sort_order=component.sort_order if component is not None else 100,
                state=component_state(impacts.get(application.key, []), override),
            )
        )
    return views


async def list_components(*, session: AsyncSession, caller: Caller) -> list[ComponentView]:
    """Every application with its status-page settings and current state (staff)."""
    auth.require_role(caller, Role.TECHNICIAN)
    return await _components(session, public_only=False)


async def set_component(
    *, session: AsyncSession, caller: Caller, application: str, data: ComponentIn, now: datetime
) -> ComponentView:
    auth.require_role(caller, Role.ADMIN)
    if await session.get(Application, application) is None:
        raise NotFound(f"no application with key {application}", field="application")
    row = await session.get(StatusComponent, application)
    if row is None:
        row = StatusComponent(application=application)
        session.add(row)
    row.public = data.public
    row.display_name = data.display_name.strip()
    row.override = data.override.value if data.override is not None else None
    row.sort_order = data.sort_order
    row.updated_at = now
    await session.flush()
    return next(
        view
        for view in await _components(session, public_only=False)
        if view.application == application
    )


async def application_name(session: AsyncSession, key: str | None) -> str:
    """The public name of an application: its component's display name, else its name."""
    if key is None:
        return ""
    component = await session.get(StatusComponent, key)
    if component is not None and component.display_name:
        return component.display_name
    application = await session.get(Application, key)
    return application.name_en if application is not None else key


# The public page ------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicUpdate:
    id: int
    state: UpdateState
    message: str
    posted_at: datetime

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class PublicIncident:
    public_id: str
    title: str
    application: str
    impact: ComponentState
    state: UpdateState
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def impact_label(self) -> str:
        return COMPONENT_LABELS[self.impact]


@dataclass(frozen=True)
class PublicStatus:
    components: list[ComponentView]
    open_incidents: list[PublicIncident]
    past_incidents: list[PublicIncident]
    changed_at: datetime | None

    @property
    def overall(self) -> ComponentState:
        return component_state(
            [item.state for item in self.components] + [item.impact for item in self.open_incidents]
        )

    @property
    def overall_label(self) -> str:
        if self.overall is ComponentState.OPERATIONAL:
            return "All systems operational"
        return COMPONENT_LABELS[self.overall]


def _public_incident(
    row: StatusIncident, names: dict[str, str], updates: list[PublicUpdate]
) -> PublicIncident:
    return PublicIncident(
        public_id=row.public_id,
        title=row.title,
        # Only a public application's name is ever shown.
        application=names.get(row.application or "", ""),
        impact=ComponentState(row.impact),
        state=UpdateState(row.state),
        started_at=row.started_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        updates=updates,
    )


async def _public_updates(
    session: AsyncSession, status_ids: Sequence[int]
) -> dict[int, list[PublicUpdate]]:
    found: dict[int, list[PublicUpdate]] = {}
    if not status_ids:
        return found
    rows = await session.execute(
        select(
            StatusUpdate.id,
            StatusUpdate.status_incident_id,
            StatusUpdate.state,
            StatusUpdate.message,
            StatusUpdate.posted_at,
        )
        .where(StatusUpdate.status_incident_id.in_(status_ids), StatusUpdate.is_public.is_(True))
        .order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
    )
    for update_id, status_id, state, message, posted_at in rows:
        found.setdefault(status_id, []).append(
            PublicUpdate(
                id=update_id, state=UpdateState(state), message=message, posted_at=posted_at
            )
        )
    return found


async def public_status(*, session: AsyncSession, now: datetime) -> PublicStatus:
    """What /status shows: public applications, open public incidents, and those resolved in
    the last 90 days, each with its public updates newest first. No caller: it is public."""
    components = await _components(session, public_only=True)
    names = {item.application: item.shown_name for item in components}
    open_rows = list(
        await session.scalars(
            select(StatusIncident)
            .where(
                StatusIncident.public.is_(True),
                StatusIncident.state != UpdateState.RESOLVED.value,
            )
            .order_by(StatusIncident.updated_at.desc(), StatusIncident.id.desc())
        )
    )
    past_rows = list(
        await session.scalars(
            select(StatusIncident)
            .where(
                StatusIncident.public.is_(True),
                StatusIncident.state == UpdateState.RESOLVED.value,
                StatusIncident.resolved_at >= now - timedelta(days=PAST_DAYS),
            )
            .order_by(StatusIncident.resolved_at.desc(), StatusIncident.id.desc())
        )
    )
    updates = await _public_updates(session, [row.id for row in open_rows + past_rows])
    changed = await session.scalar(
        select(func.max(StatusUpdate.posted_at)).where(StatusUpdate.is_public.is_(True))
    )
    component_changed = await session.scalar(select(func.max(StatusComponent.updated_at)))
    moments = [moment for moment in (changed, component_changed) if moment is not None]
    return PublicStatus(
        components=components,
        open_incidents=[_public_incident(r, names, updates.get(r.id, [])) for r in open_rows],
        past_incidents=[_public_incident(r, names, updates.get(r.id, [])) for r in past_rows],
        changed_at=max(moments) if moments else None,
    )


async def public_incident(*, session: AsyncSession, public_id: str) -> PublicIncident:
    row = await session.scalar(
        select(StatusIncident).where(
            StatusIncident.public_id == public_id, StatusIncident.public.is_(True)
        )
    )
    if row is None:
        raise NotFound(f"no public incident {public_id}", field="public_id")
    components = await _components(session, public_only=True)
    names = {item.application: item.shown_name for item in components}
    updates = await _public_updates(session, [row.id])
    return _public_incident(row, names, updates.get(row.id, []))


async def feed_entries(*, session: AsyncSession, limit: int = 50) -> list[Entry]:
    """The latest public updates of public incidents, newest first (the Atom feed)."""
    rows = await session.execute(
        select(
            StatusUpdate.id,
            StatusIncident.public_id,
            StatusIncident.title,
            StatusUpdate.state,
            StatusUpdate.message,
            StatusUpdate.posted_at,
        )
        .join(StatusIncident, StatusIncident.id == StatusUpdate.status_incident_id)
        .where(StatusUpdate.is_public.is_(True), StatusIncident.public.is_(True))
        .order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
        .limit(limit)
    )
    return [
        Entry(
            update_id=update_id,
            public_id=public_id,
            incident_title=title,
            state=UpdateState(state),
            message=message,
            posted_at=posted_at,
        )
        for update_id, public_id, title, state, message, posted_at in rows
    ]
