"""Loads demo users and incidents once, through the same services every channel uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.schemas import ConversationCreate, WorkLogCreate
from opsdesk.core.clock import Clock
from opsdesk.core.errors import NotFound
from opsdesk.incidents import actions as action_service
from opsdesk.incidents import service as incident_service
from opsdesk.incidents.fields import Channel, Ownership, Source
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.schemas import AcceptParams, IncidentCreate, ResolveParams


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    password: str


DEMO_ADMIN = DemoUser("admin@example.com", "Ada Admin", Role.ADMIN, "demo-admin")
DEMO_USERS = (
    DEMO_ADMIN,
    DemoUser("manager@example.com", "Max Manager", Role.INCIDENT_MANAGER, "demo-manager"),
    DemoUser("tech@example.com", "Tess Technician", Role.TECHNICIAN, "demo-tech"),
    DemoUser("tech2@example.com", "Tom Technician", Role.TECHNICIAN, "demo-tech"),
    DemoUser("user@example.com", "Uma User", Role.END_USER, "demo-user"),
)


async def load_demo(*, session: AsyncSession, clock: Clock) -> bool:
    """Create the demo desk; False (and nothing written) when it is already there."""
    try:
        await auth_service.get_user_by_email(session=session, email=DEMO_ADMIN.email)
    except NotFound:
        pass
    else:
        return False
    now = clock.now()
    users = {}
    for demo in DEMO_USERS:
        users[demo.email] = await auth_service.create_user(
            session=session,
            data=UserCreate(
                email=demo.email, name=demo.name, role=demo.role, password=demo.password
            ),
            now=now,
        )
    tech = auth_service.caller_of(users["tech@example.com"])
    end_user = auth_service.caller_of(users["user@example.com"])
    await incident_service.create_incident(
        session=session,
        caller=end_user,
        data=IncidentCreate(
            title="Cannot connect to VPN from home",
            description="Since this morning the VPN client says 'authentication failed'.",
            category="inc_type_p_network_issues",
            application="app_network",
            impact=3,
            urgency=2,
        ),
        now=now - timedelta(hours=3),
    )
    await incident_service.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="Checkout API returns HTTP 500 for 20% of requests",
            description="Error rate alarm on the public website since 08:40.",
            level="P1",
            ownership=Ownership.ALARM_DETECTION,
            category="inc_type_p_function_issues",
            application="app_website",
            region="eu-west-101",
            service_interrupted=True,
            fault_occurred_at=now - timedelta(hours=1),
            source=Source.ALARM,
            channel=Channel.MONITORING,
            assignee_id=tech.user_id,
        ),
        now=now - timedelta(minutes=50),
    )
    mailbox = await incident_service.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="Shared mailbox 'finance' not receiving mail",
            description="Reported by phone by the finance team.",
            level="P3",
            ownership=Ownership.CUSTOMER_REPORT,
            category="inc_type_p_config_issues",
            application="app_email",
            channel=Channel.PHONE,
            reporter_id=end_user.user_id,
            assignee_scene="service-desk",
            assignee_role="l1-analyst",
        ),
        now=now - timedelta(minutes=20),
    )
    await action_service.take_action(
        session=session,
        caller=tech,
        number=mailbox.number,
        action=Action.ACCEPT,
        params=AcceptParams(comment="Checking the mail flow rules"),
        now=now - timedelta(minutes=15),
    )
    await collaboration.add_conversation(
        session=session,
        caller=tech,
        number=mailbox.number,
        data=ConversationCreate(body="We are on it; mail sent meanwhile is queued, not lost."),
        now=now - timedelta(minutes=14),
    )
    printer = await incident_service.create_incident(
        session=session,
        caller=end_user,
        data=IncidentCreate(
            title="Printer on floor 2 prints blank pages",
            description="Every job comes out blank since yesterday.",
            category="inc_type_p_hardware_issues",
            application="app_workplace",
            impact=3,
            urgency=3,
        ),
        now=now - timedelta(days=1),
    )
    for action, params, ago in (
        (Action.ACCEPT, AcceptParams(), timedelta(hours=20)),
        (
            Action.RESOLVE,
            ResolveParams(
                cause="Empty toner cartridge; the low-toner warning was switched off",
                solution="Replaced the cartridge and switched the warning back on",
            ),
            timedelta(hours=19),
        ),
    ):
        await action_service.take_action(
            session=session,
            caller=tech,
            number=printer.number,
            action=action,
            params=params,
            now=now - ago,
        )
    await collaboration.add_work_log(
        session=session,
        caller=tech,
        number=printer.number,
        data=WorkLogCreate(
            description="On site: cartridge swap and test prints", time_spent_minutes=25
        ),
        now=now - timedelta(hours=19),
    )
    return True
