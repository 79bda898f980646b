"""SLA policies: which policy applies to an incident, its goals, pauses and escalations.

A policy matches an incident on its level, category, application, region and the
requester's organisation; an empty criterion matches anything, a non-empty one needs the
incident's value to be one of its members (an unset value matches only empty criteria).
Policies are tried in ``order`` (then ``key``); the first match wins, and no match means
no SLA. Each policy names its business-hours calendar by key, has a response goal (time
to accept) and/or a resolution goal (time to resolve) in business seconds on that
calendar, the phases in which its clocks pause, and thresholds: at p % of a goal, run
these escalation actions (see ``opsdesk.sla.clock`` for what the clocks mean).

Escalation actions: ``notify_assignee``, ``notify_group``, ``notify_manager`` (the
incident managers: users with that role), ``reassign`` (to ``workgroup``), ``raise_level`` (one
level up; P1 stays P1). When nobody is assigned, the executor sends ``notify_assignee``
to the group instead.

Default policies (one per level; thresholds 50 % → assignee, 75 % → assignee + manager,
100 % → assignee + group + manager, after ServiceNow's default SLA flow; pause phases
"paused", "rejected", "awaiting_requester"):

    ======  ==========  ===============  =======================  ==========================
    Level   Label       Calendar         Response (accept)        Resolution
    ======  ==========  ===============  =======================  ==========================
    P1      level_10    24x7             15 min                   4 h
    P2      level_20    24x7             30 min                   8 h
    P3      level_30    business-hours   2 business hours         3 business days (27 h)
    P4      level_40    business-hours   4 business hours         5 business days (45 h)
    P5      level_50    business-hours   1 business day (9 h)     10 business days (90 h)
    ======  ==========  ===============  =======================  ==========================

A business day is one 09:00-18:00 day of the default "business-hours" calendar (Mon-Fri,
UTC until an administrator sets the time zone and imports holidays).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from opsdesk.incidents.fields import LEVELS
from opsdesk.incidents.lifecycle import Phase
from opsdesk.sla.calendar import BusinessCalendar, weekly_hours
from opsdesk.sla.clock import DRAFT, STOP_PHASES, PhaseChange, SlaClock, Target, compute_clock

AWAITING_REQUESTER: Final = "awaiting_requester"
DEFAULT_PAUSE_PHASES: Final = frozenset({"paused", "rejected", AWAITING_REQUESTER})
# Pausing in these would mean the clocks never run.
_NEVER_PAUSED: Final = frozenset({"new", "in_progress"})
# The lifecycle phases where pausing is a choice: not those that run the clocks, not draft
# (it always holds them), not those that end the incident (resolved and completed stop the
# clocks whatever the policy says; merged is a way of being completed).
PAUSE_CHOICES: Final = tuple(
    phase.value
    for phase in Phase
    if phase.value not in _NEVER_PAUSED | STOP_PHASES | {DRAFT, Phase.MERGED.value}
)

MINUTE: Final = 60
HOUR: Final = 3600
BUSINESS_DAY: Final = 9 * HOUR


class ActionKind(StrEnum):
    NOTIFY_ASSIGNEE = "notify_assignee"
    NOTIFY_GROUP = "notify_group"
    NOTIFY_MANAGER = "notify_manager"
    REASSIGN = "reassign"
    RAISE_LEVEL = "raise_level"


@dataclass(frozen=True)
class EscalationAction:
    """One thing to do when a threshold is crossed; ``workgroup`` only for ``reassign``."""

    kind: ActionKind
    workgroup: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", ActionKind(self.kind))
        except ValueError:
            names = ", ".join(k.value for k in ActionKind)
            raise ValueError(f"kind: must be one of {names}, got {self.kind!r}") from None
        if self.kind is ActionKind.REASSIGN and not self.workgroup:
            raise ValueError("workgroup: reassign needs the key of the workgroup to reassign to")
        if self.kind is not ActionKind.REASSIGN and self.workgroup is not None:
            raise ValueError(f"workgroup: only reassign takes a workgroup, not {self.kind}")


@dataclass(frozen=True)
class Threshold:
    """At ``percent`` of a goal (100 = due, above 100 = overdue), run ``actions``."""

    percent: float
    actions: tuple[EscalationAction, ...] = ()

    def __post_init__(self) -> None:
        # Not finite: infinity would never be reached, and JSON (PostgreSQL's) cannot store it.
        if not (self.percent > 0 and math.isfinite(self.percent)):
            raise ValueError(f"percent: must be a positive number, got {self.percent}")
        object.__setattr__(self, "percent", float(self.percent))
        object.__setattr__(self, "actions", tuple(self.actions))


def _notify(*kinds: ActionKind) -> tuple[EscalationAction, ...]:
    return tuple(EscalationAction(kind) for kind in kinds)


DEFAULT_ESCALATIONS: Final = (
    Threshold(50, _notify(ActionKind.NOTIFY_ASSIGNEE)),
    Threshold(75, _notify(ActionKind.NOTIFY_ASSIGNEE, ActionKind.NOTIFY_MANAGER)),
    Threshold(
        100,
        _notify(ActionKind.NOTIFY_ASSIGNEE, ActionKind.NOTIFY_GROUP, ActionKind.NOTIFY_MANAGER),
    ),
)


@dataclass(frozen=True)
class IncidentFacts:
    """What a policy may match on; None when the incident has no value."""

    level: str | None = None
    category: str | None = None
    application: str | None = None
    region: str | None = None
    organisation: str | None = None


@dataclass(frozen=True)
class SlaPolicy:
    """One SLA policy; the module docstring gives the meaning of each part."""

    key: str
    name: str
    order: int
    calendar: str
    response_s: float | None = None
    resolution_s: float | None = None
    levels: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    applications: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()
    pause_phases: frozenset[str] = DEFAULT_PAUSE_PHASES
    thresholds: tuple[Threshold, ...] = DEFAULT_ESCALATIONS

    def __post_init__(self) -> None:
        if not self.key or not self.key.strip():
            raise ValueError("key: must not be empty")
        if not self.calendar:
            raise ValueError("calendar: must name a calendar key")
        if self.response_s is None and self.resolution_s is None:
            raise ValueError("response_s: a policy needs a response or a resolution goal")
        for name in ("response_s", "resolution_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: must be a positive number of seconds, got {value}")
        for name in ("levels", "categories", "applications", "regions", "organisations"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        unknown = sorted(self.levels - set(LEVELS))
        if unknown:
            raise ValueError(f"levels: unknown level {unknown[0]!r} (expected one of {LEVELS})")
        pauses = frozenset(self.pause_phases)
        if pauses & _NEVER_PAUSED:
            raise ValueError(
                f"pause_phases: {sorted(pauses & _NEVER_PAUSED)[0]!r} cannot pause the clock"
            )
        object.__setattr__(self, "pause_phases", pauses)
        thresholds = tuple(sorted(self.thresholds, key=lambda t: t.percent))
        percents = [t.percent for t in thresholds]
        if len(set(percents)) != len(percents):
            raise ValueError("thresholds: each percent may appear only once")
        object.__setattr__(self, "thresholds", thresholds)

    def matches(self, facts: IncidentFacts) -> bool:
        return (
            _within(self.levels, facts.level)
            and _within(self.categories, facts.category)
            and _within(self.applications, facts.application)
            and _within(self.regions, facts.region)
            and _within(self.organisations, facts.organisation)
        )

    def goal_s(self, target: Target) -> float | None:
        return self.response_s if target is Target.RESPONSE else self.resolution_s

    @property
    def threshold_percents(self) -> tuple[float, ...]:
        return tuple(t.percent for t in self.thresholds)

    def actions_at(self, percent: float) -> tuple[EscalationAction, ...]:
        """The actions of the threshold at ``percent`` (none if there is no such threshold)."""
        for threshold in self.thresholds:
            if threshold.percent == percent:
                return threshold.actions
        return ()


def _within(allowed: frozenset[str], value: str | None) -> bool:
    return not allowed or value in allowed


def match_policy(policies: Iterable[SlaPolicy], facts: IncidentFacts) -> SlaPolicy | None:
    """The first policy (by ``order``, then ``key``) that matches, or None."""
    for policy in sorted(policies, key=lambda p: (p.order, p.key)):
        if policy.matches(facts):
            return policy
    return None


def policy_clocks(
    policy: SlaPolicy,
    calendars: Mapping[str, BusinessCalendar],
    *,
    created_at: datetime,
    timeline: Sequence[PhaseChange],
    now: datetime,
) -> dict[Target, SlaClock]:
    """The clock of each goal the policy sets, over the whole timeline (retroactive)."""
    try:
        calendar = calendars[policy.calendar]
    except KeyError:
        raise ValueError(
            f"calendar: policy {policy.key!r} uses unknown calendar {policy.calendar!r}"
        ) from None
    clocks: dict[Target, SlaClock] = {}
    for target in Target:
        goal = policy.goal_s(target)
        if goal is not None:
            clocks[target] = compute_clock(
                created_at=created_at,
                timeline=timeline,
                target=target,
                goal_s=goal,
                calendar=calendar,
                pause_phases=policy.pause_phases,
                thresholds=policy.threshold_percents,
                now=now,
            )
    return clocks


DEFAULT_CALENDARS: Final[Mapping[str, BusinessCalendar]] = {
    "24x7": BusinessCalendar.twenty_four_seven("24x7", "24x7"),
    "business-hours": BusinessCalendar(
        key="business-hours",
        name="Business hours (Mon-Fri 09:00-18:00)",
        time_zone="UTC",
        hours=weekly_hours(range(5), "09:00", "18:00"),
    ),
}


def _default(level: str, calendar: str, response_s: float, resolution_s: float) -> SlaPolicy:
    number = LEVELS.index(level) + 1
    return SlaPolicy(
        key=f"default-p{number}",
        name=f"Default P{number}",
        order=1000 + number * 10,
        calendar=calendar,
        response_s=response_s,
        resolution_s=resolution_s,
        levels=frozenset({level}),
    )


DEFAULT_POLICIES: Final = (
    _default("level_10", "24x7", 15 * MINUTE, 4 * HOUR),
    _default("level_20", "24x7", 30 * MINUTE, 8 * HOUR),
    _default("level_30", "business-hours", 2 * HOUR, 3 * BUSINESS_DAY),
    _default("level_40", "business-hours", 4 * HOUR, 5 * BUSINESS_DAY),
    _default("level_50", "business-hours", 1 * BUSINESS_DAY, 10 * BUSINESS_DAY),
)
