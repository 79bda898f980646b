"""Assignment rules as data: conditions on an incident, a target, and how to pick a person.

Rules are tried in ``position`` order and the **first match wins**. A condition lists the
values it accepts for one field (category, application, level, region, source) or the
keywords one of which must appear in the title or description (case-insensitive). Every
non-empty condition must hold; an empty rule matches everything (a catch-all at the end).

The target is a workgroup, a shift (scene + role) or a person:
- workgroup, ``round_robin``: the members take turns, in member order;
- workgroup, ``least_loaded``: the member with the fewest open incidents (ties: member
  order);
- workgroup, ``queue``: nobody in particular; the group's members pick it up;
- shift, ``on_duty``: the person on duty (override, then rotations in order);
- person, ``direct``: that person.
A person who is unavailable, away, over capacity or missing a required skill is skipped.
When a rule's target yields nobody, a workgroup or shift still takes the incident as a
queue; a person target that is away lets the next matching rule decide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class TargetType(StrEnum):
    WORKGROUP = "workgroup"
    SHIFT = "shift"
    PERSON = "person"


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    QUEUE = "queue"
    ON_DUTY = "on_duty"
    DIRECT = "direct"


STRATEGIES_FOR: dict[TargetType, tuple[Strategy, ...]] = {
    TargetType.WORKGROUP: (Strategy.ROUND_ROBIN, Strategy.LEAST_LOADED, Strategy.QUEUE),
    TargetType.SHIFT: (Strategy.ON_DUTY,),
    TargetType.PERSON: (Strategy.DIRECT,),
}

CONDITION_FIELDS = ("categories", "applications", "levels", "regions", "sources", "keywords")


class Trigger(StrEnum):
    CREATE = "create"
    REOPEN = "reopen"


@dataclass(frozen=True)
class IncidentFacts:
    """What rules may look at; built by the incident service, so rules never read its tables."""

    title: str
    description: str = ""
    category: str | None = None
    application: str | None = None
    level: str | None = None
    region: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Conditions:
    categories: frozenset[str] = frozenset()
    applications: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Sequence[str]]) -> Conditions:
        return cls(
            categories=frozenset(raw.get("categories", ())),
            applications=frozenset(raw.get("applications", ())),
            levels=frozenset(raw.get("levels", ())),
            regions=frozenset(raw.get("regions", ())),
            sources=frozenset(raw.get("sources", ())),
            keywords=tuple(word.casefold() for word in raw.get("keywords", ())),
        )

    def matches(self, facts: IncidentFacts) -> bool:
        pairs = (
            (self.categories, facts.category),
            (self.applications, facts.application),
            (self.levels, facts.level),
            (self.regions, facts.region),
            (self.sources, facts.source),
        )
        if any(accepted and value not in accepted for accepted, value in pairs):
            return False
        if self.keywords:
            text = f"{facts.title}\n{facts.description}".casefold()
            return any(word in text for word in self.keywords)
        return True


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    position: int
    conditions: Conditions
    target_type: TargetType
    strategy: Strategy
    on_create: bool = True
    on_reopen: bool = True
    required_skills: frozenset[str] = frozenset()
    target_workgroup: str | None = None
    target_scene: str | None = None
    target_role: str | None = None
    target_user_id: str | None = None

    def applies_on(self, trigger: Trigger) -> bool:
        return self.on_create if trigger is Trigger.CREATE else self.on_reopen


def matching_rules(rules: Sequence[Rule], facts: IncidentFacts, trigger: Trigger) -> Iterator[Rule]:
    """The rules that match, lazily, in the order they are tried (first match wins)."""
    return (
        rule
        for rule in sorted(rules, key=lambda r: (r.position, r.id))
        if rule.applies_on(trigger) and rule.conditions.matches(facts)
    )


@dataclass(frozen=True)
class Candidate:
    """A workgroup member as an assigner sees them at this moment."""

    user_id: str
    open_count: int
    available: bool = True
    capacity: int | None = None
    skills: frozenset[str] = field(default_factory=frozenset)

    def can_take(self, required_skills: frozenset[str]) -> bool:
        if not self.available:
            return False
        if self.capacity is not None and self.open_count >= self.capacity:
            return False
        return required_skills <= self.skills


def pick_in_turn(
    members: Sequence[Candidate], turn: int, required_skills: frozenset[str]
) -> Candidate | None:
    """Round-robin: turn ``n`` goes to the ``n``-th of the members who can take it now.

    Turns come from a counter that only ever grows, so consecutive turns walk the eligible
    members in member order; someone who cannot take it drops out of the circle until they
    can, and the others share their part evenly.
    """
    eligible = [member for member in members if member.can_take(required_skills)]
    if not eligible:
        return None
    return eligible[turn % len(eligible)]


def pick_least_loaded(
    members: Sequence[Candidate], required_skills: frozenset[str]
) -> Candidate | None:
    """The eligible member with the fewest open incidents; ties go to member order."""
    eligible = [member for member in members if member.can_take(required_skills)]
    if not eligible:
        return None
    return min(enumerate(eligible), key=lambda pair: (pair[1].open_count, pair[0]))[1]
