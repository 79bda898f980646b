"""SLA filters and sort for incident lists, as conditions on the stored ``incident_sla`` rows.

The incidents package cannot know about SLA (it sits below it), so the list adapter hands
its query parameters here first: ``take_list_params`` removes the SLA ones and
``narrow`` adds their conditions and order to the incidents' own ``ListSpec``.

- ``sla_due_before=<ISO 8601>``: a running clock is due before that instant ("breaching in
  the next hour": now + 1 h; already breached running clocks count too);
- ``sla_breached=true|false``: some clock was breached (or none was);
- ``sort=sla_due_at`` (or ``-sla_due_at``): by the earliest due time of a running clock,
  incidents without one last; it sorts before the other sort keys given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select

from opsdesk.incidents.models import Incident
from opsdesk.incidents.queries import ListSpec, parse_bool, parse_time
from opsdesk.sla.clock import ClockState
from opsdesk.sla.models import IncidentSla

SORT_KEY = "sla_due_at"
_RUNNING = ClockState.RUNNING.value


@dataclass(frozen=True)
class SlaListParams:
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    order: list[Any] = field(default_factory=list)


def _due_before(moment: datetime) -> ColumnElement[bool]:
    return exists().where(
        IncidentSla.incident_id == Incident.id,
        IncidentSla.state == _RUNNING,
        IncidentSla.due_at < moment,
    )


def _breached() -> ColumnElement[bool]:
    return exists().where(
        IncidentSla.incident_id == Incident.id, IncidentSla.breached_at.is_not(None)
    )


def _earliest_due() -> Any:
    return (
        select(func.min(IncidentSla.due_at))
        .where(IncidentSla.incident_id == Incident.id, IncidentSla.state == _RUNNING)
        .correlate(Incident)
        .scalar_subquery()
    )


def take_list_params(
    params: Mapping[str, Sequence[str]],
) -> tuple[dict[str, list[str]], SlaListParams]:
    """Split the SLA parameters off; the rest go to ``incidents.queries.parse_list_params``."""
    rest: dict[str, list[str]] = {}
    found = SlaListParams()
    for param, values in params.items():
        if param == "sla_due_before":
            found.conditions.extend(_due_before(parse_time(param, raw)) for raw in values)
        elif param == "sla_breached":
            for raw in values:
                found.conditions.append(_breached() if parse_bool(param, raw) else ~_breached())
        elif param == "sort":
            keep: list[str] = []
            for value in values:
                for item in (part.strip() for part in value.split(",")):
                    if item.lstrip("-") == SORT_KEY:
                        due = _earliest_due()
                        found.order.append(
                            due.desc().nulls_last()
                            if item.startswith("-")
                            else due.asc().nulls_last()
                        )
                    elif item:
                        keep.append(item)
            if keep:
                rest["sort"] = [",".join(keep)]
        else:
            rest[param] = list(values)
    return rest, found


def narrow(spec: ListSpec, sla: SlaListParams) -> ListSpec:
    """The incidents' list spec with the SLA conditions and order added."""
    if not sla.conditions and not sla.order:
        return spec
    return ListSpec(
        conditions=[*spec.conditions, *sla.conditions],
        order=[*sla.order, *spec.order],
        page=spec.page,
    )
