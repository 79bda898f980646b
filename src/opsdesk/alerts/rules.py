"""Conversion rules as data: conditions on an alert, the level from severity, the title.

Pure: the service loads the rules and asks here which one applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsdesk.core.errors import ValidationFailed

MAX_CONDITIONS = 5
OPERATORS = ("eq", "ne", "contains", "regex", "in")
# The default rule's levels: critical → P2, error and warning → P3, info → P4.
LEVEL_OF_SEVERITY = {
    "critical": "level_20",
    "error": "level_30",
    "warning": "level_30",
    "info": "level_40",
}
TITLE_MAX = 200


@dataclass(frozen=True)
class RuleView:
    """What matching needs of a stored rule."""

    id: int
    conditions: Sequence[Mapping[str, Any]]
    creates_incident: bool = True
    level: str | None = None
    category: str | None = None
    application: str | None = None
    assignee_id: str | None = None
    assignee_scene: str | None = None
    assignee_role: str | None = None
    auto_resolve: bool = False
    enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def check_conditions(raw: Any) -> list[dict[str, Any]]:
    """Validated conditions: a list of at most five ``{key, op, value}``."""
    if not isinstance(raw, list):
        raise ValidationFailed("conditions: must be a list", field="conditions")
    if len(raw) > MAX_CONDITIONS:
        raise ValidationFailed(
            f"conditions: at most {MAX_CONDITIONS} conditions", field="conditions"
        )
    checked = []
    for index, item in enumerate(raw):
        where = f"conditions[{index}]"
        if not isinstance(item, dict) or set(item) - {"key", "op", "value"}:
            raise ValidationFailed(f"{where}: must be {{key, op, value}}", field=where)
        key, op, value = item.get("key"), item.get("op", "eq"), item.get("value")
        if not isinstance(key, str) or not key:
            raise ValidationFailed(f"{where}.key: is required", field=f"{where}.key")
        if op not in OPERATORS:
            raise ValidationFailed(
                f"{where}.op: must be one of {', '.join(OPERATORS)}", field=f"{where}.op"
            )
        if op == "in":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValidationFailed(
                    f"{where}.value: must be a list of strings", field=f"{where}.value"
                )
        elif not isinstance(value, str):
            raise ValidationFailed(f"{where}.value: must be a string", field=f"{where}.value")
        if op == "regex" and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValidationFailed(
                    f"{where}.value: not a regular expression ({exc})", field=f"{where}.value"
                ) from None
        checked.append({"key": key, "op": op, "value": value})
    return checked


def _subject(alert: Mapping[str, Any], key: str) -> str:
    if key in ("severity", "source", "summary"):
        return str(alert.get(key, ""))
    labels = alert.get("labels") or {}
    return str(labels.get(key, ""))


def matches(conditions: Sequence[Mapping[str, Any]], alert: Mapping[str, Any]) -> bool:
    """All conditions hold for ``alert`` (a dict with severity, source, summary, labels)."""
    for condition in conditions:
        subject, op, value = _subject(alert, condition["key"]), condition["op"], condition["value"]
        if op == "eq" and subject != value:
            return False
        if op == "ne" and subject == value:
            return False
        if op == "contains" and value not in subject:
            return False
        if op == "regex" and re.search(value, subject) is None:
            return False
        if op == "in" and subject not in value:
            return False
    return True


def first_match(rules: Sequence[RuleView], alert: Mapping[str, Any]) -> RuleView | None:
    for rule in rules:
        if rule.enabled and matches(rule.conditions, alert):
            return rule
    return None


def level_for(rule: RuleView, severity: str) -> str:
    return rule.level or LEVEL_OF_SEVERITY.get(severity, "level_30")


def title_for(alert: Mapping[str, Any]) -> str:
    """The summary, else the alert name; one line, cut to the title's length."""
    labels = alert.get("labels") or {}
    text = str(alert.get("summary") or labels.get("alertname") or "Alert")
    line = " ".join(text.split())
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1] + "…"
