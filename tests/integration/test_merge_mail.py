"""A mail reply to a merged incident lands on the incident it was merged into."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from opsdesk.collaboration.models import ConversationEntry
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from opsdesk.intake.email.outcomes import MailRules
from tests import mail_samples as samples
from tests.factories import Desk, create_incident
from tests.integration.test_inbound_mail_service import deliver, rules  # noqa: F401


async def test_reply_to_a_merged_incident_lands_on_the_primary(
    db: Database,
    clock: FixedClock,
    rules: MailRules,  # noqa: F811
    desk: Desk,
    client: httpx.AsyncClient,
) -> None:
    primary = (await create_incident(client, desk.tech, title="Printers down"))["number"]
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    secondary = first.incident_number
    assert secondary
    merged = await client.post(
        f"/api/v1/incidents/{primary}/merge",
        json={"secondaries": [secondary]},
        headers=desk.tech.headers,
    )
    assert merged.status_code == 200, merged.text
    root = f"<incident-{secondary}@desk.test>"
    reply = await deliver(
        db, clock, rules, samples.gmail_reply("user@desk.test", secondary, root, "Still jams.")
    )
    # Threaded onto the primary, not a new follow-up incident for the closed secondary.
    assert (reply.outcome, reply.incident_number) == ("threaded", primary)
    async with db.read() as session:
        primary_id = await session.scalar(select(Incident.id).where(Incident.number == primary))
        bodies = list(
            await session.scalars(
                select(ConversationEntry.body).where(ConversationEntry.incident_id == primary_id)
            )
        )
        count = len(list(await session.scalars(select(Incident.id))))
    assert bodies == ["Still jams."]
    assert count == 2
