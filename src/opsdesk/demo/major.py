"""The demo's major incidents: the checkout outage declared major, its response team, a war
room in fault delimitation with a timeline, and two child incidents linked to it; and a
false alarm, declared then downgraded, whose closed war room says why."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.settings import get_settings
from opsdesk.incidents import access, creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.relations import links
from opsdesk.relations.link_rules import LinkKind
from opsdesk.reviews import major_service, major_team, war_rooms
from opsdesk.reviews.major_rules import Declared
from opsdesk.reviews.war_room_states import WarRoomStatus


async def load_demo_major(
    *,
    session: AsyncSession,
    manager: Caller,
    tech: Caller,
    end_user: Caller,
    number: str,
    now: datetime,
) -> None:
    settings = get_settings()
    incident = await access.access_incident(
        session=session, caller=manager, number=number, for_update=True
    )
    await major_service.declare(
        session,
        incident=incident,
        actor_id=tech.user_id,
        how=Declared.MANUAL,
        reason="The public checkout is failing for customers",
        now=now - timedelta(minutes=45),
        settings=settings,
        team=major_team.TeamRequest(
            manager_id=manager.user_id,
            communications_lead_id=tech.user_id,
            technical_workgroups=["network"],
        ),
    )
    room = await war_rooms.open_room_of(session, incident.id)
    assert room is not None
    await war_rooms.add_note(
        session,
        caller=manager,
        room=room,
        body="Bridge open. Error rate 20% on /checkout since 08:40; no deploy today.",
        now=now - timedelta(minutes=40),
    )
    await war_rooms.set_status(
        session,
        caller=manager,
        room=room,
        incident=incident,
        status=WarRoomStatus.FAULT_DELIMITATION,
        note="Narrowed to the payment provider's connection pool",
        now=now - timedelta(minutes=30),
    )
    await war_rooms.add_note(
        session,
        caller=tech,
        room=room,
        body="Failing over to the secondary payment gateway; stakeholders informed.",
        now=now - timedelta(minutes=20),
    )
    for title, ago in (
        ("Cannot pay in the web shop", 35),
        ("Order confirmation never arrives after payment", 25),
    ):
        child = await creation.create_incident(
            session=session,
            caller=end_user,
            data=IncidentCreate(title=title, application="app_website", impact=3, urgency=2),
            now=now - timedelta(minutes=ago),
        )
        await links.add_link(
            session=session,
            caller=manager,
            number=number,
            kind=LinkKind.CHILD,
            other_number=child.number,
            now=now - timedelta(minutes=ago - 1),
        )
    await _load_false_alarm(session=session, manager=manager, tech=tech, now=now)


async def _load_false_alarm(
    *, session: AsyncSession, manager: Caller, tech: Caller, now: datetime
) -> None:
    declared_at = now - timedelta(hours=3)
    incident = await creation.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="VPN logins failing for the Lyon office",
            description="Remote staff in Lyon cannot connect to the VPN since 06:30.",
            impact=2,
            urgency=1,
        ),
        now=declared_at - timedelta(minutes=10),
    )
    await major_service.declare(
        session,
        incident=incident,
        actor_id=tech.user_id,
        how=Declared.MANUAL,
        reason="Looked like the VPN service was down for everybody",
        now=declared_at,
        settings=get_settings(),
        team=major_team.TeamRequest(manager_id=manager.user_id),
    )
    await major_service.downgrade(
        session,
        caller=manager,
        incident=incident,
        reason="One office's expired client certificate, not the VPN service",
        now=declared_at + timedelta(minutes=25),
    )
