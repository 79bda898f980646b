"""COC's alarm actions on alert groups (COC's aggregated alarms): convert, clear, show.

An alarm id is an alert group's id. Converting links the groups to one new incident (COC's
TransferAlarmToIncident); clearing resolves their alerts and closes them (ClearAlarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts.models import Alert, AlertGroup, ConversionRule, Integration
from opsdesk.alerts.payloads import FIRING, RESOLVED
from opsdesk.alerts.upserts import FINISHED
from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.incidents.creation import create_incident
from opsdesk.incidents.fields import Channel, HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import IncidentCreate

MAX_IDS = 100
# COC's importance words for our severities (AlarmInfoDto.importance).
IMPORTANCE = {"critical": "urgent", "error": "major", "warning": "minor", "info": "warn"}
_SEVERITY_ORDER = ("critical", "error", "warning", "info")


def parse_alarm_ids(raw: str, *, field: str = "alarm_ids") -> list[int]:
    """COC's comma-separated ids (ASCII or full-width commas) → group ids, in order."""
    parts = [part.strip() for part in raw.replace("\uff0c", ",").split(",") if part.strip()]
    if not parts:
        raise ValidationFailed(f"{field}: give at least one alarm id", field=field)
    if len(parts) > MAX_IDS:
        raise ValidationFailed(f"{field}: at most {MAX_IDS} alarm ids", field=field)
    ids = []
    for part in parts:
        if not part.isdigit() or len(part) > 18:
            raise ValidationFailed(f"{field}: {part!r} is not an alarm id", field=field)
        ids.append(int(part))
    return list(dict.fromkeys(ids))


async def _locked_groups(session: AsyncSession, ids: list[int]) -> list[AlertGroup]:
    rows = list(
        await session.scalars(
            select(AlertGroup)
            .where(AlertGroup.id.in_(ids))
            .order_by(AlertGroup.id)
            .with_for_update()
        )
    )
    missing = sorted(set(ids) - {group.id for group in rows})
    if missing:
        raise NotFound(f"alarm_ids: no alarm {missing[0]}", field="alarm_ids")
    return rows


async def transfer_to_incident(
    *,
    session: AsyncSession,
    caller: Caller,
    alarm_ids: list[int],
    data: IncidentCreate,
    now: datetime,
    rules: IncidentRules,
) -> str:
    """One new incident for the alarms; an alarm that already has an open one is refused."""
    groups = await _locked_groups(session, alarm_ids)
    linked = [group.incident_id for group in groups if group.incident_id is not None]
    if linked:
        open_ones = await session.execute(
            select(Incident.number).where(Incident.id.in_(linked), Incident.status.not_in(FINISHED))
        )
        number = open_ones.scalars().first()
        if number is not None:
            raise Conflict(
                f"alarm_ids: an alarm is already linked to the open incident {number}",
                field="alarm_ids",
            )
    incident = await create_incident(
        session=session,
        caller=caller,
        data=data,
        now=now,
        rules=rules,
        default_channel=Channel.COC_API,
    )
    for group in groups:
        group.incident_id = incident.id
    await session.flush()
    return incident.number


async def clear(
    *,
    session: AsyncSession,
    caller: Caller,
    alarm_ids: list[int],
    remarks: str,
    now: datetime,
) -> list[str]:
    """Resolve every firing alert of the alarms and close them; noted on their incidents."""
    groups = await _locked_groups(session, alarm_ids)
    for group in groups:
        await session.execute(
            update(Alert)
            .where(Alert.group_id == group.id, Alert.status == FIRING)
            .values(status=RESOLVED, resolved_at=now)
        )
        if group.closed_at is None:
            group.closed_at = now
        group.cleared_by = caller.user_id
        group.clear_remarks = remarks
        if group.incident_id is not None:
            incident = await session.get(Incident, group.incident_id)
            if incident is not None:
                comment = f"Alarm {group.id} cleared by {caller.name}"
                session.add(
                    record_history(
                        incident=incident,
                        action=HistoryAction.WORK_LOG,
                        operator_id=caller.user_id,
                        now=now,
                        comment=f"{comment}: {remarks}" if remarks else comment,
                        internal=True,
                    )
                )
    await session.flush()
    return [str(group.id) for group in groups]


@dataclass(frozen=True)
class AlarmInfo:
    """What ShowAlarm tells about a group."""

    group: AlertGroup
    integration: Integration
    rule: ConversionRule | None
    incident: Incident | None
    worst_severity: str
    firing: int


async def alarm_info(*, session: AsyncSession, alarm_id: int) -> AlarmInfo:
    group = await session.get(AlertGroup, alarm_id)
    if group is None:
        raise NotFound(f"alarm_id: no alarm {alarm_id}", field="alarm_id")
    integration = await session.get(Integration, group.integration_id)
    assert integration is not None
    rule = None if group.rule_id is None else await session.get(ConversionRule, group.rule_id)
    incident = None if group.incident_id is None else await session.get(Incident, group.incident_id)
    severities = set(
        await session.scalars(select(Alert.severity).where(Alert.group_id == alarm_id))
    )
    worst = next((s for s in _SEVERITY_ORDER if s in severities), "warning")
    firing = await session.scalar(
        select(func.count()).where(Alert.group_id == alarm_id, Alert.status == FIRING)
    )
    return AlarmInfo(group, integration, rule, incident, worst, int(firing or 0))
