"""The incident detail page and the forms on it: actions, replies, work logs, feedback, files.

Routes only translate between HTML forms and services: every rule lives in the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound
from opsdesk.incidents import service as incident_service
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    OWNERSHIP_LABELS,
    SCALE_LABELS,
    SOURCE_LABELS,
    Label,
    history_action_label,
)
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.web.common import (
    CATALOG_FIELDS,
    EMPTY,
    FIELD_LABELS,
    OWNER_TYPE_LABELS,
    STATUS_CLASSES,
    USER_FIELDS,
    _caller,
    _catalog_names,
    _db,
    _error_page,
    _format_time,
    _label,
    _level_class,
    _level_label,
    _name,
    _owner,
    _render,
    _status_label,
    _to_login,
    _user_names,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ChangeView:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryView:
    time: datetime
    operator: str
    action: str
    status_label: str
    status_class: str
    comment: str
    changes: list[ChangeView]


class _Names:
    """Turns stored keys into what a person reads, for fields and history values."""

    def __init__(self, catalog: Mapping[Kind, Mapping[str, str]], users: Mapping[str, str]) -> None:
        self.catalog = catalog
        self.users = users

    def value(self, name: str, raw: Any) -> str:
        if raw is None or raw == "":
            return EMPTY
        if isinstance(raw, bool):
            return "Yes" if raw else "No"
        text = str(raw)
        if name in CATALOG_FIELDS:
            return _name(self.catalog[CATALOG_FIELDS[name]], text)
        if name in USER_FIELDS:
            return _name(self.users, text)
        if name == "level":
            return _level_label(text)
        if name == "status":
            return _status_label(text)
        if name in ("impact", "urgency") and isinstance(raw, int):
            label = SCALE_LABELS.get(raw)
            return label.en if label is not None else text
        if name == "fault_occurred_at":
            try:
                return _format_time(datetime.fromisoformat(text))
            except ValueError:
                return text
        labels: dict[str, Mapping[Any, Label]] = {
            "ownership": OWNERSHIP_LABELS,
            "source": SOURCE_LABELS,
            "channel": CHANNEL_LABELS,
        }
        if name in labels:
            return _label(labels[name], text)
        if name == "owner_type":
            return OWNER_TYPE_LABELS.get(text, text)
        return text


def _history_view(row: IncidentHistory, names: _Names) -> HistoryView:
    return HistoryView(
        time=row.start_time,
        operator=_name(names.users, row.operator_id) if row.operator_id else "System",
        action=history_action_label(row.action).en,
        status_label=_status_label(row.status),
        status_class=STATUS_CLASSES.get(row.status, "unknown"),
        comment=row.comment,
        changes=[
            ChangeView(
                field=FIELD_LABELS.get(str(change.get("field")), str(change.get("field"))),
                old=names.value(str(change.get("field")), change.get("old")),
                new=names.value(str(change.get("field")), change.get("new")),
            )
            for change in row.changes
        ],
    )


def _detail_fields(incident: Incident, names: _Names) -> list[tuple[str, str]]:
    return [
        ("Impact", names.value("impact", incident.impact)),
        ("Urgency", names.value("urgency", incident.urgency)),
        ("Category", names.value("category", incident.category)),
        ("Application", names.value("application", incident.application)),
        ("Region", names.value("region", incident.region)),
        ("Enterprise project", names.value("enterprise_project", incident.enterprise_project)),
        ("Ownership", names.value("ownership", incident.ownership)),
        ("Fault occurred at", _format_time(incident.fault_occurred_at)),
        ("Service interrupted", "Yes" if incident.service_interrupted else "No"),
        ("Assignee", _owner(incident, names.users)),
        ("Source", names.value("source", incident.source)),
        ("Channel", names.value("channel", incident.channel)),
        ("Reporter", _name(names.users, incident.reporter_id)),
        ("Created by", _name(names.users, incident.creator_id)),
        ("Created", _format_time(incident.created_at)),
        ("Updated", _format_time(incident.updated_at)),
        ("Version", str(incident.version)),
    ]


@router.get("/incidents/{number}")
async def incident_detail(request: Request, number: str) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        try:
            incident = await incident_service.access_incident(
                session=session, caller=caller, number=number
            )
            history = await incident_service.list_history(
                session=session, caller=caller, number=number
            )
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Incident not found",
                message=f"There is no incident {number}, or you may not see it.",
            )
        user_ids: list[str | None] = [
            incident.creator_id,
            incident.reporter_id,
            incident.assignee_id,
        ]
        for row in history:
            user_ids.append(row.operator_id)
            for change in row.changes:
                if change.get("field") in USER_FIELDS:
                    user_ids += [change.get("old"), change.get("new")]
        names = _Names(
            await _catalog_names(session, CATALOG_FIELDS.values()),
            await _user_names(session, user_ids),
        )
    return _render(
        request,
        "incident_detail.html",
        {
            "incident": incident,
            "level_label": _level_label(incident.level),
            "level_class": _level_class(incident.level),
            "status_label": _status_label(incident.status),
            "status_class": STATUS_CLASSES.get(incident.status, "unknown"),
            "fields": _detail_fields(incident, names),
            "history": [_history_view(row, names) for row in reversed(history)],
        },
        caller=caller,
    )
