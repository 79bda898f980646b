"""Stakeholder updates against real databases: the public view over time (open, resolved,
past 90 days, reopened), component states, and when the last update was posted."""

from __future__ import annotations

from datetime import timedelta

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.reviews import status_page, status_updates
from opsdesk.reviews.status_rules import ComponentState, UpdateState
from opsdesk.reviews.status_schemas import ComponentIn, StatusUpdateCreate
from tests.factories import Desk


async def test_public_view_over_time_and_the_last_update(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    now = clock.now()
    async with db.write() as session:
        await status_page.set_component(
            session=session,
            caller=desk.admin.caller,
            application="app_email",
            data=ComponentIn(public=True),
            now=now,
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(title="mx-1 queue", level="P2", application="app_email"),
            now=now,
        )
        assert await status_updates.last_status_update_at(session, incident.id) is None

    async def post(state: UpdateState, at: timedelta) -> None:
        async with db.write() as session:
            await status_updates.post_update(
                session=session,
                caller=desk.tech.caller,
                data=StatusUpdateCreate(
                    incident=incident.number, state=state, title="Mail delayed", message=state
                ),
                now=now + at,
            )

    async def view(at: timedelta) -> status_page.PublicStatus:
        async with db.read() as session:
            return await status_page.public_status(session=session, now=now + at)

    await post(UpdateState.INVESTIGATING, timedelta(minutes=1))
    seen = await view(timedelta(minutes=2))
    assert [item.title for item in seen.open_incidents] == ["Mail delayed"]
    assert [(c.application, c.state) for c in seen.components] == [
        ("app_email", ComponentState.PARTIAL_OUTAGE)
    ]
    await post(UpdateState.RESOLVED, timedelta(hours=1))
    async with db.read() as session:
        assert await status_updates.last_status_update_at(session, incident.id) == now + timedelta(
            hours=1
        )
    resolved = await view(timedelta(days=89))
    assert resolved.open_incidents == [] and len(resolved.past_incidents) == 1
    assert [u.state for u in resolved.past_incidents[0].updates] == [
        UpdateState.RESOLVED,
        UpdateState.INVESTIGATING,
    ]
    assert resolved.components[0].state is ComponentState.OPERATIONAL
    gone = await view(timedelta(days=91))
    assert gone.past_incidents == []
    # Reopened: open again, with its whole public history.
    await post(UpdateState.INVESTIGATING, timedelta(days=2))
    reopened = await view(timedelta(days=2, minutes=1))
    assert len(reopened.open_incidents) == 1 and reopened.past_incidents == []
    assert len(reopened.open_incidents[0].updates) == 3
    async with db.read() as session:
        entries = await status_page.feed_entries(session=session)
    assert [entry.state for entry in entries] == [
        UpdateState.INVESTIGATING,
        UpdateState.RESOLVED,
        UpdateState.INVESTIGATING,
    ]
