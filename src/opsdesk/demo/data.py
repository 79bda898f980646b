"""Loads demo users and incidents once, through the same services every channel uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import service as assignment
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.rules import Strategy, TargetType
from opsdesk.assignment.schemas import (
    ConditionsIn,
    RoleCreate,
    RotationCreate,
    RuleCreate,
    SceneCreate,
    WorkgroupCreate,
)
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.schemas import ConversationCreate, WorkLogCreate
from opsdesk.collaboration.work_schemas import (
    TaskCreate,
    TaskUpdate,
    WorkOrderCreate,
    WorkOrderUpdate,
)
from opsdesk.collaboration.work_states import TaskStatus, WorkOrderStatus
from opsdesk.core.clock import Clock
from opsdesk.core.errors import NotFound
from opsdesk.demo.knowledge import load_demo_knowledge
from opsdesk.demo.mail import load_demo_mail
from opsdesk.demo.major import load_demo_major
from opsdesk.demo.reviews import load_demo_reviews
from opsdesk.demo.status import load_demo_status
from opsdesk.demo.suggestions import load_suggestions_demo
from opsdesk.incidents import actions as action_service
from opsdesk.incidents import creation
from opsdesk.incidents.fields import Channel, Ownership, Source
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import AcceptParams, IncidentCreate, ResolveParams
from opsdesk.relations import links, merging, splitting
from opsdesk.relations.link_rules import LinkKind


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
    await _load_assignment(
        session=session,
        admin=auth_service.caller_of(users[DEMO_ADMIN.email]),
        technicians=[users["tech@example.com"].id, users["tech2@example.com"].id],
        manager=users["manager@example.com"].id,
        now=now,
    )
    home_report = await creation.create_incident(
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
    checkout = await creation.create_incident(
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
    mailbox = await creation.create_incident(
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
    printer = await creation.create_incident(
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
    await _load_work(session=session, caller=tech, number=mailbox.number, now=now)
    await _load_links(
        session=session, tech=tech, end_user=end_user, home_report=home_report, now=now
    )
    await _load_relations(
        session=session, tech=tech, end_user=end_user, primary=mailbox.number, now=now
    )
    await load_demo_mail(session=session, clock=clock)
    await load_demo_reviews(session=session, clock=clock)
    await _load_alerts(session=session, admin_id=users[DEMO_ADMIN.email].id, now=now)
    await load_demo_status(
        session=session,
        admin=auth_service.caller_of(users[DEMO_ADMIN.email]),
        manager=auth_service.caller_of(users["manager@example.com"]),
        tech=tech,
        now=now,
    )
    await load_demo_knowledge(
        session=session,
        tech=tech,
        manager=auth_service.caller_of(users["manager@example.com"]),
        readers=[end_user, auth_service.caller_of(users["tech2@example.com"])],
        printer=printer.number,
        now=now,
    )
    await load_demo_major(
        session=session,
        manager=auth_service.caller_of(users["manager@example.com"]),
        tech=tech,
        end_user=end_user,
        number=checkout.number,
        now=now,
    )
    await load_suggestions_demo(session=session, end_user=end_user, now=now)
    return True


async def _load_work(*, session: AsyncSession, caller: Caller, number: str, now: datetime) -> None:
    """Tasks for other teams and a work order for the field-service group."""
    await tasks.create_task(
        session=session,
        caller=caller,
        number=number,
        data=TaskCreate(
            title="Check the mail gateway's transport rules",
            description="The finance mailbox may be caught by a new spam rule.",
            workgroup="network",
            due_at=now + timedelta(hours=4),
        ),
        now=now - timedelta(minutes=13),
    )
    senders = await tasks.create_task(
        session=session,
        caller=caller,
        number=number,
        data=TaskCreate(
            title="Ask finance which senders are missing",
            assignee_id=caller.user_id,
            due_at=now + timedelta(minutes=40),
        ),
        now=now - timedelta(minutes=12),
    )
    await tasks.update_task(
        session=session,
        caller=caller,
        number=number,
        task_id=senders.id,
        data=TaskUpdate(status=TaskStatus.IN_PROGRESS),
        now=now - timedelta(minutes=11),
    )
    order = await work_orders.create_work_order(
        session=session,
        caller=caller,
        number=number,
        data=WorkOrderCreate(
            title="Replace the failing disk in mail relay mx-2",
            description="mx-2 reports a degraded RAID; its queue may hold the finance mail.",
            workgroup="field-service",
            location="DC1, hall A, rack A7",
            planned_start=now + timedelta(hours=1),
            planned_end=now + timedelta(hours=3),
        ),
        now=now - timedelta(minutes=10),
    )
    await work_orders.update_work_order(
        session=session,
        caller=caller,
        order_id=order.id,
        data=WorkOrderUpdate(status=WorkOrderStatus.SCHEDULED),
        now=now - timedelta(minutes=9),
    )


async def _load_relations(
    *, session: AsyncSession, tech: Caller, end_user: Caller, primary: str, now: datetime
) -> None:
    """A duplicate merged into the finance mailbox incident (undoable for a while), and a
    report of two problems with one split off into its own incident."""
    duplicate = await creation.create_incident(
        session=session,
        caller=end_user,
        data=IncidentCreate(
            title="Mails to finance@ bounce",
            description="Customers say their mails to finance@ come back undelivered.",
            category="inc_type_p_config_issues",
            application="app_email",
            impact=3,
            urgency=2,
        ),
        now=now - timedelta(minutes=12),
    )
    await collaboration.add_conversation(
        session=session,
        caller=end_user,
        number=duplicate.number,
        data=ConversationCreate(body="The bounce says 'mailbox unavailable'."),
        now=now - timedelta(minutes=11),
    )
    await merging.merge(
        session=session,
        caller=tech,
        primary_number=primary,
        secondary_numbers=[duplicate.number],
        now=now - timedelta(minutes=10),
    )
    mixed = await creation.create_incident(
        session=session,
        caller=end_user,
        data=IncidentCreate(
            title="Laptop slow, and Teams drops calls",
            description="My laptop is slow since the update. Also Teams drops every call.",
            category="inc_type_p_function_issues",
            application="app_workplace",
            impact=3,
            urgency=3,
        ),
        now=now - timedelta(hours=2),
    )
    teams = await collaboration.add_conversation(
        session=session,
        caller=end_user,
        number=mixed.number,
        data=ConversationCreate(body="Teams dropped three calls this morning, on Wi-Fi and LAN."),
        now=now - timedelta(hours=1, minutes=50),
    )
    await splitting.split(
        session=session,
        caller=tech,
        number=mixed.number,
        part=splitting.SplitPart(
            title="Teams drops calls",
            description="Split from the slow-laptop report: Teams drops every call.",
            conversation_ids=[teams.id],
        ),
        now=now - timedelta(hours=1, minutes=45),
    )


async def _load_alerts(*, session: AsyncSession, admin_id: str, now: datetime) -> None:
    """A Prometheus integration with three alert groups, one of which opened an incident."""
    from opsdesk.alerts import integrations
    from opsdesk.alerts import service as alerts
    from opsdesk.alerts.payloads import NormalisedAlert

    _row, key = await integrations.create_integration(
        session=session,
        name="Prometheus (demo)",
        kind="alertmanager",
        acting_user_id=admin_id,
        now=now - timedelta(hours=3),
        group_by=["alertname", "env"],
    )
    row = await integrations.list_integrations(session=session)
    await integrations.save_rule(
        session=session,
        integration_id=row[0].id,
        values={
            "name": "Staging alerts stay alerts",
            "position": 10,
            "conditions": [{"key": "env", "op": "eq", "value": "staging"}],
            "creates_incident": False,
        },
    )
    view = await alerts.integration_by_key(session=session, key=key)

    def alert(
        name: str, host: str, env: str, summary: str, event: str = "firing"
    ) -> NormalisedAlert:
        labels = {"alertname": name, "instance": f"{host}:9100", "env": env, "severity": "critical"}
        return NormalisedAlert(
            dedup_key=f"{name}-{host}",
            event=event,
            severity="critical" if name == "DiskFull" else "warning",
            summary=summary,
            source=f"{host}:9100",
            labels=labels,
            annotations={"summary": summary},
            link=f"http://prometheus.example.com:9090/graph?g0.expr={name}",
        )

    disk = [
        alert("DiskFull", "db1", "prod", "Disk /var/lib/postgresql 97% full on db1"),
        alert("DiskFull", "db2", "prod", "Disk /var/lib/postgresql 93% full on db2"),
    ]
    for minutes in (90, 60, 30):
        await alerts.ingest(
            session=session, integration=view, alerts=disk, now=now - timedelta(minutes=minutes)
        )
    staging = [alert("HighLatency", "api-staging", "staging", "p99 above 2 s on api-staging")]
    await alerts.ingest(
        session=session, integration=view, alerts=staging, now=now - timedelta(minutes=45)
    )
    flap = [alert("TargetDown", "cache3", "staging", "cache3 unreachable", event="resolved")]
    await alerts.ingest(
        session=session, integration=view, alerts=flap, now=now - timedelta(minutes=20)
    )


async def _load_assignment(
    *,
    session: AsyncSession,
    admin: Caller,
    technicians: list[str],
    manager: str,
    now: datetime,
) -> None:
    """Two workgroups, a weekly service-desk rotation, and rules that route by category."""
    await assignment_workgroups.create_workgroup(
        session=session,
        caller=admin,
        data=WorkgroupCreate(
            key="service-desk",
            name="Service Desk (L1)",
            skills=["workplace", "email"],
            strategy=Strategy.ROUND_ROBIN,
            members=technicians,
        ),
        now=now,
    )
    await assignment_workgroups.create_workgroup(
        session=session,
        caller=admin,
        data=WorkgroupCreate(
            key="network",
            name="Network operations",
            skills=["network", "vpn"],
            strategy=Strategy.LEAST_LOADED,
            members=list(reversed(technicians)),
        ),
        now=now,
    )
    await assignment_workgroups.create_workgroup(
        session=session,
        caller=admin,
        data=WorkgroupCreate(
            key="field-service",
            name="Field service (DC1)",
            description="On-site work in the data centre: hardware swaps, cabling.",
            skills=["hardware", "datacentre"],
            strategy=Strategy.ROUND_ROBIN,
            members=technicians[1:],
            does_work_orders=True,
        ),
        now=now,
    )
    await assignment_shifts.create_scene(
        session=session,
        caller=admin,
        data=SceneCreate(key="service-desk", name="Service desk", time_zone="Europe/Berlin"),
        now=now,
    )
    for role, name in (("l1-analyst", "L1 analyst"), ("incident-manager", "Incident manager")):
        await assignment_shifts.add_role(
            session=session,
            caller=admin,
            scene_key="service-desk",
            data=RoleCreate(key=role, name=name),
            now=now,
        )
    # Started a week ago, so that somebody is on duty whenever the demo is loaded.
    monday = (now - timedelta(days=now.weekday() + 7)).date()
    await assignment_shifts.add_rotation(
        session=session,
        caller=admin,
        scene_key="service-desk",
        role_key="l1-analyst",
        data=RotationCreate(
            name="Weekly L1", members=technicians, start_date=monday, handoff=time(9, 0)
        ),
        now=now,
    )
    await assignment_shifts.add_rotation(
        session=session,
        caller=admin,
        scene_key="service-desk",
        role_key="incident-manager",
        data=RotationCreate(name="Duty manager", members=[manager], start_date=monday),
        now=now,
    )
    for rule in (
        RuleCreate(
            name="Network and VPN to network operations",
            conditions=ConditionsIn(keywords=["vpn", "wifi", "network"]),
            target_type=TargetType.WORKGROUP,
            target_workgroup="network",
        ),
        RuleCreate(
            name="P1 alarms to the L1 analyst on duty",
            conditions=ConditionsIn(levels=["level_10"], sources=["incident_source_alarm"]),
            target_type=TargetType.SHIFT,
            target_scene="service-desk",
            target_role="l1-analyst",
        ),
        RuleCreate(
            name="Everything else to the service desk",
            target_type=TargetType.WORKGROUP,
            target_workgroup="service-desk",
        ),
    ):
        await assignment.create_rule(session=session, caller=admin, data=rule, now=now)


async def _load_links(
    *, session: AsyncSession, tech: Caller, end_user: Caller, home_report: Incident, now: datetime
) -> None:
    """Seed 001's pattern: separate reports of one remote-access outage, put under a parent
    incident as the pattern emerges, and the links around it (related, caused by)."""

    async def report(caller: Caller, ago: timedelta, **fields: object) -> str:
        data = IncidentCreate.model_validate(
            {"category": "inc_type_p_network_issues", "application": "app_network", **fields}
        )
        created = await creation.create_incident(
            session=session, caller=caller, data=data, now=now - ago
        )
        return created.number

    outage = await report(
        tech,
        timedelta(hours=2),
        title="Remote access gateway gw-02 drops sessions",
        description="Dropped remote sessions reported from several sites since 07:30; "
        "the gateway's session table is full.",
        level="P2",
        assignee_id=tech.user_id,
    )
    await action_service.take_action(
        session=session,
        caller=tech,
        number=outage,
        action=Action.ACCEPT,
        params=AcceptParams(comment="Parent for the remote access reports"),
        now=now - timedelta(minutes=115),
    )
    berlin = await report(
        tech,
        timedelta(minutes=150),
        title="Berlin office: remote sessions drop every hour",
        description="Reported by phone by the Berlin office.",
        level="P3",
        channel=Channel.PHONE,
        reporter_id=end_user.user_id,
    )
    sales = await report(
        end_user,
        timedelta(minutes=100),
        title="Sales team cannot stay connected to the remote desktop",
        description="Disconnected every few minutes since this morning.",
        impact=3,
        urgency=2,
    )
    freeze = await report(
        tech,
        timedelta(minutes=90),
        title="Remote desktop sessions freeze for the finance team",
        description="Screens freeze for a minute, then the session comes back.",
        level="P3",
    )
    for number, kind, other in (
        (outage, LinkKind.CHILD, home_report.number),
        (outage, LinkKind.CHILD, berlin),
        (outage, LinkKind.CHILD, sales),
        (freeze, LinkKind.CAUSED_BY, outage),
        (sales, LinkKind.RELATED, freeze),
    ):
        await links.add_link(
            session=session,
            caller=tech,
            number=number,
            kind=kind,
            other_number=other,
            now=now - timedelta(minutes=80),
        )
