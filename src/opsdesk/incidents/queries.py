"""Native list filtering: query parameters → a validated spec → one SQL query.

Every field of the incident can be filtered:
- ``field=a,b`` keeps rows whose value is one of a, b (keys, ids, enums, numbers, booleans);
- ``field_isnull=true|false`` for optional fields;
- ``title``/``description`` match case-insensitively anywhere; ``q`` searches number,
  title and description at once;
- ``created_at_from`` / ``created_at_to`` (and the same for ``updated_at`` and
  ``fault_occurred_at``) bound times, inclusive from, exclusive to, ISO 8601 with offset;
- ``sort=-created_at,number`` orders by any sortable field, ``-`` for descending;
- ``page`` (from 1) and ``per_page`` (1-200).
Unknown parameters are refused by name, so a typo never silently widens a result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_
from sqlalchemy.orm import InstrumentedAttribute

from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents.fields import Status, parse_level
from opsdesk.incidents.models import Incident

KEYWORD_FIELDS = (
    "number",
    "status",
    "ownership",
    "category",
    "region",
    "enterprise_project",
    "application",
    "owner_type",
    "assignee_id",
    "assignee_scene",
    "assignee_role",
    "workgroup",
    "source",
    "channel",
    "creator_id",
    "reporter_id",
)
INT_FIELDS = ("impact", "urgency")
BOOL_FIELDS = ("service_interrupted",)
TEXT_FIELDS = ("title", "description")
TIME_FIELDS = ("created_at", "updated_at", "fault_occurred_at")
NULLABLE_FIELDS = (
    "impact",
    "urgency",
    "ownership",
    "category",
    "region",
    "application",
    "owner_type",
    "assignee_id",
    "assignee_scene",
    "assignee_role",
    "workgroup",
    "fault_occurred_at",
)
SORTABLE_FIELDS = (
    "number",
    "title",
    "level",
    "status",
    "impact",
    "urgency",
    "category",
    "application",
    "created_at",
    "updated_at",
    "fault_occurred_at",
)
DEFAULT_SORT = ("-created_at",)


@dataclass(frozen=True)
class ListSpec:
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    order: list[Any] = field(default_factory=list)
    page: PageRequest = field(default_factory=PageRequest)


def _column(name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(Incident, name)
    return column


def _split(value: str) -> list[str]:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    return parts or [value.strip()]


def _int(param: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{param}: {raw!r} is not a whole number", field=param) from None
    if not low <= value <= high:
        raise ValidationFailed(f"{param}: must be between {low} and {high}", field=param)
    return value


def parse_bool(param: str, raw: str) -> bool:
    """A list parameter's true/false; shared by every list filter (sla/queries.py too)."""
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationFailed(f"{param}: {raw!r} is not true or false", field=param)


def parse_time(param: str, raw: str) -> datetime:
    """A list parameter's ISO 8601 instant, with a time zone."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{param}: {raw!r} is not an ISO 8601 time", field=param) from None
    if value.tzinfo is None:
        raise ValidationFailed(f"{param}: give a time zone offset, e.g. Z", field=param)
    return value


def _contains(raw: str) -> str:
    """A LIKE pattern matching ``raw`` literally anywhere: % and _ typed by users are text."""
    escaped = raw.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _condition(param: str, raw: str) -> ColumnElement[bool] | None:
    if param == "q":
        needle = _contains(raw)
        return or_(
            Incident.number.ilike(needle, escape="\\"),
            Incident.title.ilike(needle, escape="\\"),
            Incident.description.ilike(needle, escape="\\"),
        )
    if param in TEXT_FIELDS:
        return _column(param).ilike(_contains(raw), escape="\\")
    if param == "level":
        keys = []
        for value in _split(raw):
            key = parse_level(value)
            if key is None:
                raise ValidationFailed(
                    f"level: {value!r} is not P1-P5 or level_10-level_50", field=param
                )
            keys.append(key)
        return Incident.level.in_(keys)
    if param == "status":
        values = _split(raw)
        known = {status.value for status in Status}
        for value in values:
            if value not in known:
                raise ValidationFailed(f"status: unknown status {value!r}", field=param)
        return Incident.status.in_(values)
    if param in KEYWORD_FIELDS:
        return _column(param).in_(_split(raw))
    if param in INT_FIELDS:
        return _column(param).in_([_int(param, v, low=1, high=3) for v in _split(raw)])
    if param in BOOL_FIELDS:
        return _column(param).is_(parse_bool(param, raw))
    if param.endswith("_isnull") and param.removesuffix("_isnull") in NULLABLE_FIELDS:
        column = _column(param.removesuffix("_isnull"))
        return column.is_(None) if parse_bool(param, raw) else column.is_not(None)
    for suffix, before in (("_from", False), ("_to", True)):
        name = param.removesuffix(suffix)
        if param.endswith(suffix) and name in TIME_FIELDS:
            moment = parse_time(param, raw)
            return _column(name) < moment if before else _column(name) >= moment
    return None


def _order(raw: Sequence[str]) -> list[Any]:
    order = []
    for item in raw:
        name = item.lstrip("-")
        if name not in SORTABLE_FIELDS:
            raise ValidationFailed(
                f"sort: cannot sort by {name!r}; sortable: {', '.join(SORTABLE_FIELDS)}",
                field="sort",
            )
        column = _column(name)
        order.append(column.desc() if item.startswith("-") else column.asc())
    order.append(Incident.id.desc())
    return order


def parse_list_params(params: Mapping[str, Sequence[str]]) -> ListSpec:
    """Validate query parameters into a spec; every problem names its parameter."""
    conditions: list[ColumnElement[bool]] = []
    sort: Sequence[str] = DEFAULT_SORT
    page, per_page = 1, 20
    for param, values in params.items():
        if param == "page":
            page = _int(param, values[-1], low=1, high=1_000_000)
            continue
        if param == "per_page":
            per_page = _int(param, values[-1], low=1, high=MAX_PER_PAGE)
            continue
        if param == "sort":
            sort = [s for v in values for s in _split(v)] or DEFAULT_SORT
            continue
        for raw in values:
            if not raw.strip():
                raise ValidationFailed(
                    f"{param}: give a value or leave the parameter out", field=param
                )
            condition = _condition(param, raw)
            if condition is None:
                raise ValidationFailed(f"{param}: unknown filter parameter", field=param)
            conditions.append(condition)
    return ListSpec(conditions=conditions, order=_order(sort), page=PageRequest(page, per_page))


def apply_list_spec(query: Select[Incident], spec: ListSpec) -> Select[Incident]:
    return query.where(*spec.conditions).order_by(*spec.order)
