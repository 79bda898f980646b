"""Assignment rules and routing: the ordered rules and ``route``, which the incident service
calls on create and reopen (``workgroups.to_workgroup`` and ``shifts.to_shift`` on forward).

The incident service passes the facts of the incident and a function that counts open
incidents per person, so this package never reads the incident tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.models import (
    AssignmentRule,
    Workgroup,
)
from opsdesk.assignment.people import Assignment, OpenCounts, available_people, check_staff
from opsdesk.assignment.rules import (
    STRATEGIES_FOR,
    Conditions,
    IncidentFacts,
    Rule,
    Strategy,
    TargetType,
    Trigger,
    matching_rules,
)
from opsdesk.assignment.schemas import (
    RuleCreate,
    RuleUpdate,
)
from opsdesk.assignment.shifts import check_shift, to_shift
from opsdesk.assignment.workgroups import to_workgroup
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import require_role
from opsdesk.core.cache import forget, remember
from opsdesk.core.errors import NotFound, ValidationFailed


def _as_rule(row: AssignmentRule) -> Rule:
    return Rule(
        id=row.id,
        name=row.name,
        position=row.position,
        conditions=Conditions.from_mapping(row.conditions),
        target_type=TargetType(row.target_type),
        strategy=Strategy(row.strategy),
        on_create=row.on_create,
        on_reopen=row.on_reopen,
        required_skills=frozenset(row.required_skills),
        target_workgroup=row.target_workgroup,
        target_scene=row.target_scene,
        target_role=row.target_role,
        target_user_id=row.target_user_id,
    )


_RULES_CACHE_KEY = "assignment_rules"


async def _enabled_rules(session: AsyncSession) -> tuple[Rule, ...]:
    """The enabled rules in the order they are tried, as pure values; cached a few seconds
    (every new incident asks)."""

    async def load() -> tuple[Rule, ...]:
        rows = await session.scalars(select(AssignmentRule).where(AssignmentRule.enabled.is_(True)))
        return tuple(sorted((_as_rule(row) for row in rows), key=lambda r: (r.position, r.id)))

    return await remember(session, "reference", _RULES_CACHE_KEY, load)


async def list_rules(*, session: AsyncSession, caller: Caller) -> list[AssignmentRule]:
    require_role(caller, Role.TECHNICIAN)
    rows = await session.scalars(
        select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)
    )
    return list(rows)


async def _rule(session: AsyncSession, rule_id: int) -> AssignmentRule:
    rule = await session.get(AssignmentRule, rule_id)
    if rule is None:
        raise NotFound(f"no assignment rule {rule_id}", field="rule_id")
    return rule


async def get_rule(*, session: AsyncSession, caller: Caller, rule_id: int) -> AssignmentRule:
    require_role(caller, Role.TECHNICIAN)
    return await _rule(session, rule_id)


_TARGET_FIELDS = ("target_workgroup", "target_scene", "target_role", "target_user_id")
_NEEDED: dict[TargetType, tuple[str, ...]] = {
    TargetType.WORKGROUP: ("target_workgroup",),
    TargetType.SHIFT: ("target_scene", "target_role"),
    TargetType.PERSON: ("target_user_id",),
}


async def _check_target(session: AsyncSession, values: dict[str, Any]) -> None:
    """Exactly the target fields of the target type, naming things that exist."""
    target = TargetType(values["target_type"])
    for field in _TARGET_FIELDS:
        given = values.get(field) is not None
        if field in _NEEDED[target] and not given:
            raise ValidationFailed(f"{field}: required for a {target.value} target", field=field)
        if field not in _NEEDED[target] and given:
            raise ValidationFailed(
                f"{field}: not used by a {target.value} target; leave it out", field=field
            )
    strategy = values.get("strategy")
    if strategy is None:
        if target is TargetType.WORKGROUP:
            group = await session.get(Workgroup, values["target_workgroup"])
            strategy = Strategy.ROUND_ROBIN if group is None else Strategy(group.strategy)
        else:
            strategy = STRATEGIES_FOR[target][0]
    if Strategy(strategy) not in STRATEGIES_FOR[target]:
        allowed = ", ".join(STRATEGIES_FOR[target])
        raise ValidationFailed(
            f"strategy: a {target.value} target takes {allowed}", field="strategy"
        )
    values["strategy"] = str(strategy)
    if target is TargetType.WORKGROUP:
        group = await session.get(Workgroup, values["target_workgroup"])
        if group is None:
            raise ValidationFailed(
                f"target_workgroup: no workgroup {values['target_workgroup']}",
                field="target_workgroup",
            )
    elif target is TargetType.SHIFT:
        try:
            await check_shift(
                session=session, scene=values["target_scene"], role=values["target_role"]
            )
        except ValidationFailed as exc:
            field = "target_scene" if exc.field == "assignee_scene" else "target_role"
            raise ValidationFailed(
                str(exc).replace(str(exc.field), field, 1), field=field
            ) from None
    else:
        await check_staff(session, [values["target_user_id"]], "target_user_id")


async def create_rule(
    *, session: AsyncSession, caller: Caller, data: RuleCreate, now: datetime
) -> AssignmentRule:
    require_role(caller, Role.ADMIN)
    values = data.model_dump()
    values["conditions"] = {k: v for k, v in values["conditions"].items() if v}
    await _check_target(session, values)
    if values["position"] is None:
        last = await session.scalar(select(func.max(AssignmentRule.position)))
        values["position"] = (last or 0) + 10
    values["target_type"] = str(values["target_type"])
    rule = AssignmentRule(**values, created_at=now, updated_at=now)
    session.add(rule)
    await session.flush()
    forget(session, "reference")
    return rule


async def update_rule(
    *, session: AsyncSession, caller: Caller, rule_id: int, data: RuleUpdate, now: datetime
) -> AssignmentRule:
    require_role(caller, Role.ADMIN)
    rule = await _rule(session, rule_id)
    changes = data.model_dump(exclude_unset=True)
    nullable = {"strategy", *_TARGET_FIELDS}
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    if "conditions" in changes:
        changes["conditions"] = {k: v for k, v in changes["conditions"].items() if v}
    if {"target_type", "strategy", *_TARGET_FIELDS} & set(changes):
        # A new target replaces the old one whole, as the owner of an incident does.
        retargeted = "target_type" in changes
        target = {
            "target_type": changes.get("target_type", rule.target_type),
            "strategy": changes.get("strategy", None if retargeted else rule.strategy),
            **{
                field: changes.get(field, None if retargeted else getattr(rule, field))
                for field in _TARGET_FIELDS
            },
        }
        await _check_target(session, target)
        target["target_type"] = str(target["target_type"])
        changes.update(target)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.updated_at = now
    await session.flush()
    forget(session, "reference")
    return rule


async def delete_rule(*, session: AsyncSession, caller: Caller, rule_id: int) -> None:
    require_role(caller, Role.ADMIN)
    rule = await _rule(session, rule_id)
    await session.delete(rule)
    await session.flush()
    forget(session, "reference")


async def _apply_rule(
    session: AsyncSession, rule: Rule, now: datetime, open_counts: OpenCounts
) -> Assignment | None:
    chosen = f"rule #{rule.id} '{rule.name}'"
    if rule.target_type is TargetType.WORKGROUP:
        assert rule.target_workgroup is not None
        try:
            found = await to_workgroup(
                session=session,
                key=rule.target_workgroup,
                now=now,
                open_counts=open_counts,
                strategy=rule.strategy,
                required_skills=rule.required_skills,
            )
        except ValidationFailed:
            return None  # the group was disabled or removed: the next rule decides
    elif rule.target_type is TargetType.SHIFT:
        assert rule.target_scene is not None
        assert rule.target_role is not None
        found = await to_shift(
            session=session, scene=rule.target_scene, role=rule.target_role, now=now
        )
    else:
        assert rule.target_user_id is not None
        present = await available_people(session=session, user_ids=[rule.target_user_id], now=now)
        if rule.target_user_id not in present:
            return None
        found = Assignment(user_id=rule.target_user_id, note=f"to {rule.target_user_id}")
    return Assignment(
        workgroup=found.workgroup,
        user_id=found.user_id,
        scene=found.scene,
        role=found.role,
        rule_id=rule.id,
        note=f"{chosen}: {found.note}",
    )


async def route(
    *,
    session: AsyncSession,
    facts: IncidentFacts,
    trigger: Trigger,
    now: datetime,
    open_counts: OpenCounts,
) -> Assignment | None:
    """The first matching enabled rule that yields an owner; None when no rule decides."""
    for rule in matching_rules(await _enabled_rules(session), facts, trigger):
        found = await _apply_rule(session, rule, now, open_counts)
        if found is not None:
            return found
    return None
