"""The incident fields' rules every write shares (pure): the deployment's tunables, which
fields only staff set, the owner's shape and the fault time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Forbidden, ValidationFailed
from opsdesk.incidents.fields import OwnerType

# Fields an end user may not set: triage, ownership and provenance belong to the desk.
STAFF_ONLY_FIELDS = frozenset(
    {
        "level",
        "ownership",
        "owner_type",
        "assignee_id",
        "assignee_scene",
        "assignee_role",
        "workgroup",
        "source",
        "channel",
        "reporter_id",
        "major",
    }
)
# The owner is replaced as a whole: these four are one value.
OWNER_FIELDS = ("owner_type", "assignee_id", "assignee_scene", "assignee_role")
# What a create or edit history row records as changed.
RECORDED_FIELDS = (
    "title",
    "description",
    "level",
    "impact",
    "urgency",
    "ownership",
    "category",
    "region",
    "enterprise_project",
    "application",
    "fault_occurred_at",
    "service_interrupted",
    "owner_type",
    "assignee_id",
    "assignee_scene",
    "assignee_role",
    "workgroup",
    "source",
    "channel",
    "reporter_id",
    "major",
)


@dataclass(frozen=True)
class IncidentRules:
    """Tunables of the incident rules that come from deployment settings."""

    clock_skew: timedelta = timedelta(minutes=5)
    reopen_window: timedelta = timedelta(days=14)
    auto_complete_after: timedelta = timedelta(days=7)
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_max_count: int = 10


def refuse_staff_only(caller: Caller, given: set[str]) -> None:
    """An end user who sends a field of the desk is refused, naming the field."""
    if caller.is_staff:
        return
    for field in sorted(given & STAFF_ONLY_FIELDS):
        raise Forbidden(f"{field}: end users cannot set this field", field=field)


def check_fault_time(value: datetime | None, *, now: datetime, rules: IncidentRules) -> None:
    """A fault time may lead the server clock by the allowed skew, no more."""
    if value is not None and value > now + rules.clock_skew:
        raise ValidationFailed(
            "fault_occurred_at: must not be in the future "
            f"(more than {int(rules.clock_skew.total_seconds())} s ahead of the server clock)",
            field="fault_occurred_at",
        )


def normalize_owner(values: dict[str, Any]) -> dict[str, Any]:
    """Owner is a person (individual) or a shift (scene + role), never both or half a shift."""
    owner_type, assignee = values.get("owner_type"), values.get("assignee_id")
    scene, role = values.get("assignee_scene"), values.get("assignee_role")
    if owner_type is None:
        if assignee is not None:
            owner_type = OwnerType.INDIVIDUAL
        elif scene is not None or role is not None:
            owner_type = OwnerType.SHIFT
    if owner_type == OwnerType.INDIVIDUAL:
        if assignee is None:
            raise ValidationFailed(
                "assignee_id: required when owner_type is individual", field="assignee_id"
            )
        if scene is not None or role is not None:
            raise ValidationFailed(
                "assignee_scene: an individual owner takes no shift scene or role",
                field="assignee_scene",
            )
    elif owner_type == OwnerType.SHIFT:
        if assignee is not None:
            raise ValidationFailed(
                "assignee_id: a shift owner is chosen by the shift, not given", field="assignee_id"
            )
        for name, value in (("assignee_scene", scene), ("assignee_role", role)):
            if value is None:
                raise ValidationFailed(
                    f"{name}: a shift owner needs both assignee_scene and assignee_role",
                    field=name,
                )
    return {
        "owner_type": None if owner_type is None else str(owner_type),
        "assignee_id": assignee,
        "assignee_scene": scene,
        "assignee_role": role,
    }
