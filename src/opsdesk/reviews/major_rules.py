"""Major-incident rules (pure): the team roles, when a rule declares, how often to update.

The settings speak in levels as people write them (``P1=15,P2=30,*=60``); the rules here
turn them into the stored level keys and answer "does this incident become major, and why".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from opsdesk.incidents.fields import LEVEL_LABELS, LEVELS, parse_level


class TeamRole(StrEnum):
    INCIDENT_MANAGER = "incident_manager"
    COMMUNICATIONS_LEAD = "communications_lead"
    TECHNICAL_LEAD = "technical_lead"


TEAM_ROLE_LABELS: dict[TeamRole, str] = {
    TeamRole.INCIDENT_MANAGER: "Incident manager",
    TeamRole.COMMUNICATIONS_LEAD: "Communications lead",
    TeamRole.TECHNICAL_LEAD: "Technical lead",
}


class Declared(StrEnum):
    MANUAL = "manual"
    RULE = "rule"


class Rule(StrEnum):
    """Why a rule declared an incident major."""

    LEVEL = "level"  # created at, or raised to, an auto-declaring level (P1)
    CRITICAL_APPLICATION = "critical_application"  # service interrupted on one of them
    ALERT_STORM = "alert_storm"  # one of its alert groups reached the threshold


class RulesError(ValueError):
    """A setting that cannot be read; the message names it."""


def parse_levels(raw: str, *, setting: str) -> frozenset[str]:
    """``P1,level_20`` → the level keys; empty → none."""
    keys = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        key = parse_level(part)
        if key is None:
            raise RulesError(f"{setting}: {part!r} is no level (use P1..P5)")
        keys.add(key)
    return frozenset(keys)


def parse_minutes(raw: str, *, setting: str) -> dict[str, int]:
    """``P1=15,P2=30,*=60`` → minutes per level key (``*``: every other level; 0: never)."""
    minutes: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise RulesError(f"{setting}: {part!r} is not LEVEL=MINUTES (e.g. P1=15)")
        name = name.strip()
        if name == "*":
            for level in LEVELS:
                minutes.setdefault(level, int(value))
            continue
        key = parse_level(name)
        if key is None:
            raise RulesError(f"{setting}: {name!r} is no level (use P1..P5 or *)")
        minutes[key] = int(value)
    return minutes


def parse_keys(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class MajorRules:
    """What declares an incident major by itself, and the update cadence per level."""

    auto_levels: frozenset[str] = frozenset({"level_10"})
    critical_applications: frozenset[str] = frozenset()
    alert_storm: int = 0  # alerts in one group; 0: off
    update_minutes: Mapping[str, int] | None = None

    def rule_for(
        self, *, level: str, application: str | None, service_interrupted: bool
    ) -> tuple[Rule, str] | None:
        """The rule an incident's facts meet, with the reason in words; None if none."""
        if level in self.auto_levels:
            label = LEVEL_LABELS[level].en if level in LEVEL_LABELS else level
            return Rule.LEVEL, f"level {label} declares a major incident"
        if service_interrupted and application and application in self.critical_applications:
            return (
                Rule.CRITICAL_APPLICATION,
                f"service interrupted on the business-critical application {application}",
            )
        return None

    def storm_reason(self, count: int) -> str:
        return f"alert storm: {count} alerts in one group (threshold {self.alert_storm})"

    def interval(self, level: str) -> timedelta | None:
        """How often the team must post an update at ``level``; None: no reminders."""
        minutes = (self.update_minutes or {}).get(level, 0)
        return timedelta(minutes=minutes) if minutes > 0 else None


def reminder_due(
    *,
    interval: timedelta | None,
    last_update: datetime,
    last_reminder: datetime | None,
    now: datetime,
) -> datetime | None:
    """When the manager is next reminded; None if never. A reminder repeats each interval
    while no update is posted."""
    if interval is None:
        return None
    since = max(last_update, last_reminder) if last_reminder is not None else last_update
    return since + interval


def is_reminder_due(
    *,
    interval: timedelta | None,
    last_update: datetime,
    last_reminder: datetime | None,
    now: datetime,
) -> bool:
    due = reminder_due(
        interval=interval, last_update=last_update, last_reminder=last_reminder, now=now
    )
    return due is not None and due <= now
