"""Split a part off an incident: a new incident from a chosen part of it.

The part (title, description, conversation entries, attachments) is copied into a new
incident of the same reporter, linked ``related`` to the original, which keeps its own rows;
history rows on both sides say where the part went. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import moving
from opsdesk.core.errors import Conflict, ValidationFailed
from opsdesk.incidents import attachment_moves
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.creation import create_incident
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.relations import merge_rules
from opsdesk.relations.common import raise_refusal, staff_only
from opsdesk.relations.models import IncidentLink

SPLIT_LINK_KIND = "related"


@dataclass(frozen=True)
class SplitPart:
    """What goes into the new incident; conversation entries and attachments are copied."""

    title: str
    description: str
    conversation_ids: Sequence[int] = ()
    attachment_ids: Sequence[int] = ()


async def split(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    part: SplitPart,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
) -> Incident:
    """A new incident from a part of ``number``, same reporter, linked back; returns it."""
    staff_only(caller, "split incidents")
    original = await access_incident(
        session=session, caller=caller, number=number, for_update=True, follow_merge=False
    )
    if original.merged_into_id is not None:
        raise Conflict(
            f"number: {number} is merged; split the incident it was merged into instead",
            field="number",
        )
    raise_refusal(
        merge_rules.split_attachment_room(
            wanted=len(set(part.attachment_ids)), limit=rules.attachment_max_count
        )
    )
    entries = await moving.conversations_of(
        session, incident_id=original.id, entry_ids=set(part.conversation_ids)
    )
    missing = sorted(set(part.conversation_ids) - {entry.id for entry in entries})
    if missing:
        raise ValidationFailed(
            f"conversation_ids: {', '.join(map(str, missing))} are not conversation entries "
            f"of {number}",
            field="conversation_ids",
        )
    files = await attachment_moves.attachments_of(
        session, incident_id=original.id, attachment_ids=set(part.attachment_ids)
    )
    missing = sorted(set(part.attachment_ids) - {item.id for item in files})
    if missing:
        raise ValidationFailed(
            f"attachment_ids: {', '.join(map(str, missing))} are not attachments of {number}",
            field="attachment_ids",
        )
    created = await create_incident(
        session=session,
        caller=caller,
        data=IncidentCreate(
            title=part.title,
            description=part.description,
            level=original.level,
            impact=original.impact,
            urgency=original.urgency,
            category=original.category,
            region=original.region,
            enterprise_project=original.enterprise_project,
            application=original.application,
            service_interrupted=original.service_interrupted,
            reporter_id=original.reporter_id,
        ),
        now=now,
        rules=rules,
    )
    new = await session.get(Incident, created.id)
    assert new is not None
    copies = await moving.copy_conversations(session, entries=entries, to_id=new.id)
    await attachment_moves.copy_attachments(
        session, attachments=files, to_id=new.id, conversation_ids=copies
    )
    session.add(
        IncidentLink(
            source_id=new.id,
            target_id=original.id,
            kind=SPLIT_LINK_KIND,
            created_by=caller.user_id,
            created_at=now,
        )
    )
    what = f"{len(entries)} conversation entries and {len(files)} attachments copied"
    session.add(
        record_history(
            incident=original,
            action=HistoryAction.SPLIT,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": "split_to", "old": None, "new": new.number}],
            comment=f"Split off into {new.number} ({what}); linked as related",
        )
    )
    session.add(
        record_history(
            incident=new,
            action=HistoryAction.SPLIT_FROM,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": "split_from", "old": None, "new": original.number}],
            comment=f"Split from {original.number} ({what}); linked as related",
        )
    )
    original.version += 1
    original.updated_at = now
    await session.flush()
    return new


async def split_from(session: AsyncSession, *, incident_id: int) -> str | None:
    """The number of the incident ``incident_id`` was split from, if it was."""
    rows = await session.scalars(
        select(IncidentHistory.changes).where(
            IncidentHistory.incident_id == incident_id,
            IncidentHistory.action == HistoryAction.SPLIT_FROM.value,
        )
    )
    for changes in rows:
        for change in changes:
            if change.get("field") == "split_from" and isinstance(change.get("new"), str):
                return str(change["new"])
    return None
