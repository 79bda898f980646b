"""Field changes: what a history row records as old and new values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JSONScalar = str | int | float | bool | None


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: JSONScalar
    new: JSONScalar

    def as_dict(self) -> dict[str, JSONScalar]:
        return {"field": self.field, "old": self.old, "new": self.new}


def to_json_scalar(value: Any) -> JSONScalar:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """The fields of ``after`` whose value differs from ``before``, in ``after``'s order."""
    changes = []
    for field, new in after.items():
        old = before.get(field)
        if old != new:
            changes.append(FieldChange(field, to_json_scalar(old), to_json_scalar(new)))
    return changes
