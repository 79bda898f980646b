"""Automation steps: a runbook or script reports what it did to an incident, as history.

COC shows these among the operation history (e.g. "Contingency Plan Auto Execution
Failure", keyed by the step's ``action_id``). A step is an annotation: it changes nothing
on the incident but its ``updated_at``/``version``, and its row carries the step's own
start and stop times, so the history sorts it where it happened, not where it was reported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration.schemas import AutomationStepCreate, StepOutcome
from opsdesk.core.errors import Forbidden, ValidationFailed
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import (
    STEP_ID,
    STEP_NAME_EN,
    STEP_NAME_ZH,
    STEP_OUTCOME,
    HistoryAction,
)
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import IncidentHistory
from opsdesk.incidents.rules import IncidentRules


def _check_times(
    data: AutomationStepCreate, *, created_at: datetime, now: datetime, rules: IncidentRules
) -> None:
    skew = rules.clock_skew
    if data.started_at > now + skew:
        raise ValidationFailed(
            "started_at: must not be in the future "
            f"(more than {int(skew.total_seconds())} s ahead of the server clock)",
            field="started_at",
        )
    if data.started_at < created_at - skew:
        raise ValidationFailed(
            "started_at: a step of this incident cannot start before the incident was created",
            field="started_at",
        )
    if data.finished_at is not None:
        if data.finished_at < data.started_at:
            raise ValidationFailed(
                "finished_at: must not be before started_at", field="finished_at"
            )
        if data.finished_at > now + skew:
            raise ValidationFailed("finished_at: must not be in the future", field="finished_at")
    if data.outcome != StepOutcome.RUNNING and data.finished_at is None:
        raise ValidationFailed(
            f"finished_at: required when the outcome is {data.outcome.value}",
            field="finished_at",
        )


async def record_automation_step(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    data: AutomationStepCreate,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
) -> IncidentHistory:
    """Append one automation step to the incident's history; staff and integrations only."""
    if not caller.is_staff:
        raise Forbidden("automation steps are reported by staff or integration accounts only")
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    _check_times(data, created_at=incident.created_at, now=now, rules=rules)
    row = record_history(
        incident=incident,
        action=HistoryAction.AUTOMATION_STEP,
        operator_id=caller.user_id,
        now=data.started_at,
        comment=data.comment,
        changes=[
            {"field": STEP_ID, "old": None, "new": data.step_id},
            {"field": STEP_NAME_EN, "old": None, "new": data.name_en},
            {"field": STEP_NAME_ZH, "old": None, "new": data.name_zh or data.name_en},
            {"field": STEP_OUTCOME, "old": None, "new": data.outcome.value},
        ],
    )
    row.stop_time = data.finished_at
    incident.updated_at = now
    incident.version += 1
    session.add(row)
    await session.flush()
    return row
