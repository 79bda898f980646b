"""The post-incident review section of the incident page: its context (staff only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.settings import Settings
from opsdesk.incidents.models import Incident
from opsdesk.reviews import pir_service
from opsdesk.reviews.pir_workflow import STATUS_LABELS, ReviewStatus


async def review_context(
    session: AsyncSession, caller: Caller, incident: Incident, settings: Settings
) -> dict[str, Any]:
    """``pir_section`` for ``_incident_pir.html``: the review, or whether one is needed."""
    if not caller.is_staff:
        return {}
    review = await pir_service.review_of_incident(session, caller=caller, incident=incident)
    return {
        "pir_section": {
            "review": review,
            "status_label": STATUS_LABELS[ReviewStatus(review.status)] if review else "",
            "needed": pir_service.requirement(incident, settings),
        }
    }
