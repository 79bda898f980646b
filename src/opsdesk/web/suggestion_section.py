"""The "Similar incidents and articles" section of the staff incident page: suggestions for
the incident's own title and description, the incident itself left out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.incidents.models import Incident
from opsdesk.knowledge import suggest
from opsdesk.knowledge.embeddings import embedder_for

SIMILAR_LIMIT = 6


async def similar_context(
    session: AsyncSession,
    caller: Caller,
    incident: Incident,
    now: datetime,
    *,
    embeddings: bool,
) -> dict[str, Any]:
    """``similar``: ranked items with their URLs (staff only; end users get none)."""
    if not caller.is_staff:
        return {"similar": []}
    items = await suggest.suggest(
        session=session,
        caller=caller,
        text_=f"{incident.title}. {incident.description}",
        now=now,
        limit=SIMILAR_LIMIT,
        exclude_incident_id=incident.id,
        embedder=embedder_for(embeddings),
    )
    return {"similar": [(item, suggest.url_of(item)) for item in items]}
