"""History rows: the one way a change or note is recorded, and the display names of the
enumerated values they list (COC's ``enum_data_list``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import names_of
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    LEVEL_LABELS,
    OWNERSHIP_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Label,
)
from opsdesk.incidents.models import Incident, IncidentHistory


def record_history(
    *,
    incident: Incident,
    action: str,
    operator_id: str | None,
    now: datetime,
    changes: list[dict[str, Any]] | None = None,
    comment: str = "",
    internal: bool = False,
) -> IncidentHistory:
    """A history row for ``incident`` at its current status; the caller adds it to the session.

    Every feature that changes or annotates an incident records it through here, in the
    same transaction as the change.
    """
    return IncidentHistory(
        incident_id=incident.id,
        action=action,
        operator_id=operator_id,
        status=incident.status,
        start_time=now,
        stop_time=now,
        comment=comment,
        changes=changes or [],
        internal=internal,
    )


# Enumerated fields whose changes a history row lists in COC's ``enum_data_list``.
_STATIC_ENUMS: dict[str, dict[str, Label]] = {
    "status": {str(key): label for key, label in STATUS_LABELS.items()},
    "level": LEVEL_LABELS,
    "requested_level": LEVEL_LABELS,
    "ownership": {str(key): label for key, label in OWNERSHIP_LABELS.items()},
    "source": {str(key): label for key, label in SOURCE_LABELS.items()},
    "channel": {str(key): label for key, label in CHANNEL_LABELS.items()},
}
_CATALOG_ENUMS: dict[str, Kind] = {
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}


@dataclass(frozen=True)
class EnumNames:
    """Display names of the enumerated values that some history rows changed to."""

    catalog: Mapping[tuple[str, str], Label]

    def name(self, field: str, key: str) -> Label | None:
        static = _STATIC_ENUMS.get(field)
        if static is not None:
            return static.get(key, Label(key, key))
        if field in _CATALOG_ENUMS:
            return self.catalog.get((field, key), Label(key, key))
        return None

    def enum_data(self, changes: list[dict[str, Any]]) -> list[tuple[str, str, Label]]:
        """(field, new key, names) for every enumerated field among ``changes``."""
        found = []
        for change in changes:
            field, new = change.get("field"), change.get("new")
            if isinstance(field, str) and isinstance(new, str):
                label = self.name(field, new)
                if label is not None:
                    found.append((field, new, label))
        return found


async def enum_names(*, session: AsyncSession, rows: list[IncidentHistory]) -> EnumNames:
    wanted: dict[str, set[str]] = {}
    for row in rows:
        for change in row.changes:
            field, new = change.get("field"), change.get("new")
            if field in _CATALOG_ENUMS and isinstance(new, str):
                wanted.setdefault(field, set()).add(new)
    catalog: dict[tuple[str, str], Label] = {}
    for field, keys in wanted.items():
        names = await names_of(session=session, kind=_CATALOG_ENUMS[field], keys=keys)
        catalog.update({(field, key): Label(en, zh) for key, (en, zh) in names.items()})
    return EnumNames(catalog=catalog)
