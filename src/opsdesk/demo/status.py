"""The demo's status page: public applications, stakeholder audiences, an open public
incident with two updates and one resolved a week ago, all through the services."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.reviews import status_audiences, status_page, status_updates
from opsdesk.reviews.status_rules import AudienceKind, UpdateState
from opsdesk.reviews.status_schemas import AudienceIn, ComponentIn, StatusUpdateCreate

PUBLIC_APPLICATIONS = (
    ("app_website", "Website and APIs", 10),
    ("app_identity", "Sign-in", 20),
    ("app_email", "Email", 30),
    ("app_network", "VPN and remote access", 40),
)


async def load_demo_status(
    *, session: AsyncSession, admin: Caller, manager: Caller, tech: Caller, now: datetime
) -> None:
    for key, name, order in PUBLIC_APPLICATIONS:
        await status_page.set_component(
            session=session,
            caller=admin,
            application=key,
            data=ComponentIn(public=True, display_name=name, sort_order=order),
            now=now,
        )
    owners = await status_audiences.create_audience(
        session=session,
        caller=manager,
        data=AudienceIn(
            name="Service owners",
            kind=AudienceKind.INTERNAL,
            emails=["service-owners@example.com"],
            user_ids=[manager.user_id],
        ),
        now=now,
    )
    customers = await status_audiences.create_audience(
        session=session,
        caller=manager,
        data=AudienceIn(
            name="Website customers",
            kind=AudienceKind.CUSTOMERS,
            application="app_website",
            emails=["ops@customer-a.example.net", "it@customer-b.example.net"],
        ),
        now=now,
    )
    audiences = [owners.id, customers.id]

    checkout = await creation.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="pay-gw-2 returns 500 on card auth after 14:02 deploy",
            description="Internal: rollback candidate build 8812; see the work log.",
            level="P2",
            category="inc_type_p_function_issues",
            application="app_website",
            service_interrupted=True,
        ),
        now=now - timedelta(minutes=55),
    )
    for minutes, state, message in (
        (
            50,
            UpdateState.INVESTIGATING,
            "Some card payments on the website fail with an error. We are investigating.",
        ),
        (
            20,
            UpdateState.IDENTIFIED,
            "We have found the cause, a faulty software update, and are rolling it back. "
            "Payments by invoice are not affected.",
        ),
    ):
        await status_updates.post_update(
            session=session,
            caller=manager,
            data=StatusUpdateCreate(
                incident=checkout.number,
                state=state,
                title="Card payments failing on the website",
                message=message,
                audience_ids=audiences,
            ),
            now=now - timedelta(minutes=minutes),
        )

    signin = await creation.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="idp-1 LDAP pool exhausted",
            level="P3",
            category="inc_type_p_function_issues",
            application="app_identity",
        ),
        now=now - timedelta(days=7, hours=3),
    )
    for hours, state, message in (
        (3, UpdateState.INVESTIGATING, "Signing in is slow for some users."),
        (2, UpdateState.MONITORING, "A fix is in place; sign-in times are back to normal."),
        (1, UpdateState.RESOLVED, "Sign-in has been working normally for an hour."),
    ):
        await status_updates.post_update(
            session=session,
            caller=manager,
            data=StatusUpdateCreate(
                incident=signin.number,
                state=state,
                title="Slow sign-in",
                message=message,
                audience_ids=[owners.id],
            ),
            now=now - timedelta(days=7, hours=hours),
        )
