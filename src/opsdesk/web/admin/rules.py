"""Assignment rule pages: the ordered list, move up and down, edit, and a "which rule?" tester."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, QueryParams

from opsdesk.assignment import service as assignment_service
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.models import AssignmentRule
from opsdesk.assignment.rules import IncidentFacts, Strategy, TargetType, Trigger
from opsdesk.assignment.schemas import RuleCreate, RuleUpdate
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.incidents import assigning
from opsdesk.incidents.fields import SOURCE_LABELS
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.admin.workgroups import words
from opsdesk.web.common import _catalog_names, _clock, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

CATALOG_CONDITIONS = {
    "categories": Kind.CATEGORY,
    "applications": Kind.APPLICATION,
    "levels": Kind.LEVEL,
    "regions": Kind.REGION,
}
TARGET_OPTIONS = [
    ("workgroup", "A workgroup"),
    ("shift", "Whoever is on duty in a shift"),
    ("person", "A person"),
]
STRATEGY_OPTIONS = [
    ("", "The target's default"),
    (Strategy.ROUND_ROBIN.value, "Round robin"),
    (Strategy.LEAST_LOADED.value, "Least loaded"),
    (Strategy.QUEUE.value, "Queue"),
    (Strategy.ON_DUTY.value, "On duty"),
    (Strategy.DIRECT.value, "Directly"),
]
# Service and schema fields → the form inputs that show their errors.
INPUT_OF_FIELD = {
    **{f"conditions.{name}": name for name in (*CATALOG_CONDITIONS, "sources", "keywords")},
    "target_scene": "target_shift",
    "target_role": "target_shift",
}
TEST_INPUTS = ("title", "description", "category", "application", "level", "region", "source")


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such rule."
    )


def _rule_values(form: FormData) -> dict[str, Any]:
    """The form as typed, to show again after an error."""
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "name",
            "target_type",
            "strategy",
            "target_workgroup",
            "target_shift",
            "target_user_id",
            "keywords",
            "required_skills",
        )
    }
    for name in (*CATALOG_CONDITIONS, "sources"):
        values[name] = [value for value in form.getlist(name) if isinstance(value, str) and value]
    for flag in ("enabled", "on_create", "on_reopen"):
        values[flag] = _text(form, flag) == "on"
    return values


def _rule_data(values: dict[str, Any]) -> dict[str, Any]:
    """The typed values as the rule schema's fields; only the chosen target's fields count."""
    target = values["target_type"]
    scene, _, role = values["target_shift"].partition("/")
    return {
        "name": values["name"],
        "enabled": values["enabled"],
        "on_create": values["on_create"],
        "on_reopen": values["on_reopen"],
        "conditions": {
            **{name: values[name] for name in CATALOG_CONDITIONS},
            "sources": values["sources"],
            "keywords": words(values["keywords"]),
        },
        "required_skills": words(values["required_skills"]),
        "target_type": target,
        "strategy": values["strategy"] or None,
        "target_workgroup": (values["target_workgroup"] or None) if target == "workgroup" else None,
        "target_scene": (scene or None) if target == "shift" else None,
        "target_role": (role or None) if target == "shift" else None,
        "target_user_id": (values["target_user_id"] or None) if target == "person" else None,
    }


def _values_of(rule: AssignmentRule) -> dict[str, Any]:
    conditions = rule.conditions
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "on_create": rule.on_create,
        "on_reopen": rule.on_reopen,
        **{name: list(conditions.get(name, [])) for name in CATALOG_CONDITIONS},
        "sources": list(conditions.get("sources", [])),
        "keywords": ", ".join(conditions.get("keywords", [])),
        "required_skills": ", ".join(rule.required_skills),
        "target_type": rule.target_type,
        "strategy": rule.strategy,
        "target_workgroup": rule.target_workgroup or "",
        "target_shift": f"{rule.target_scene}/{rule.target_role}" if rule.target_scene else "",
        "target_user_id": rule.target_user_id or "",
    }


async def _options(session: AsyncSession, caller: Caller) -> dict[str, Any]:
    catalog = await _catalog_names(session, CATALOG_CONDITIONS.values())
    groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
    scenes = await assignment_shifts.list_scenes(session=session, caller=caller)
    staff = await auth_service.active_staff(session=session)
    return {
        **{name: sorted(catalog[kind].items()) for name, kind in CATALOG_CONDITIONS.items()},
        "target_type": TARGET_OPTIONS,
        "strategy": STRATEGY_OPTIONS,
        "target_workgroup": [("", "Choose…")] + [(group.key, group.name) for group in groups],
        "target_shift": [("", "Choose…")]
        + [
            (f"{scene.key}/{role.key}", f"{scene.name} / {role.name}")
            for scene in scenes
            for role in scene.roles
        ],
        "target_user_id": [("", "Choose…")] + [(user.id, user.name) for user in staff],
        "sources": [(key.value, label.en) for key, label in SOURCE_LABELS.items()],
    }


def _target_text(rule: AssignmentRule, names: dict[str, str]) -> str:
    if rule.target_type == TargetType.WORKGROUP:
        return f"workgroup {rule.target_workgroup} ({rule.strategy})"
    if rule.target_type == TargetType.SHIFT:
        return f"on duty in {rule.target_scene} / {rule.target_role}"
    user = rule.target_user_id or ""
    return f"person {names.get(user, user)}"


def _conditions_text(rule: AssignmentRule) -> str:
    parts = [f"{name}: {', '.join(values)}" for name, values in rule.conditions.items() if values]
    if rule.required_skills:
        parts.append(f"skills: {', '.join(rule.required_skills)}")
    return "; ".join(parts) or "every incident"


async def _tester(
    session: AsyncSession, request: Request, query: QueryParams
) -> dict[str, Any] | None:
    """The dry run the API's POST /assignment-rules/test makes, for the facts in the query."""
    if query.get("test") != "1":
        return None
    facts = {name: query.get(name, "") for name in TEST_INPUTS}
    trigger = query.get("trigger", "create")
    found = await assignment_service.route(
        session=session,
        facts=IncidentFacts(
            title=facts["title"][:200],
            description=facts["description"][:10_000],
            **{name: facts[name] or None for name in TEST_INPUTS[2:]},
        ),
        trigger=Trigger.REOPEN if trigger == "reopen" else Trigger.CREATE,
        now=_clock(request).now(),
        open_counts=assigning.open_counter(session),
    )
    if found is None:
        return {"rule_id": None, "note": "No rule matches: the incident would stay unassigned."}
    return {"rule_id": found.rule_id, "note": found.note}


async def _rules_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        rules = await assignment_service.list_rules(session=session, caller=caller)
        options = await _options(session, caller)
        tested = await _tester(session, request, request.query_params)
    names = dict(options["target_user_id"])
    return render_admin(
        request,
        "admin/rules.html",
        {
            "rules": [
                {
                    "id": rule.id,
                    "name": rule.name,
                    "position": rule.position,
                    "enabled": rule.enabled,
                    "when": ", ".join(
                        label
                        for label, on in (("new", rule.on_create), ("reopened", rule.on_reopen))
                        if on
                    ),
                    "conditions": _conditions_text(rule),
                    "target": _target_text(rule, names),
                }
                for rule in rules
            ],
            "options": options,
            "tested": tested,
            "test": {
                name: request.query_params.get(name, "") for name in (*TEST_INPUTS, "trigger")
            },
        },
        caller=caller,
        errors=errors,
        values=values
        or {"enabled": True, "on_create": True, "on_reopen": True, "target_type": "workgroup"},
    )


@router.get("/admin/rules")
async def rules_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _rules_page(request, caller)


@router.post("/admin/rules")
async def create_rule(request: Request) -> Response:
    form = await request.form()
    values = _rule_values(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(RuleCreate, _rule_data(values), INPUT_OF_FIELD)
            rule = await assignment_service.create_rule(
                session=session, caller=caller, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc, INPUT_OF_FIELD)
        else:
            return done(request, f"Rule {rule.name} added at the end.", "/admin/rules")
    return await _rules_page(request, caller, errors=errors, values=values)


async def _rule_page(
    request: Request,
    caller: Caller,
    rule_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            rule = await assignment_service.get_rule(
                session=session, caller=caller, rule_id=rule_id
            )
        except NotFound:
            return _missing(request, caller)
        options = await _options(session, caller)
    return render_admin(
        request,
        "admin/rule.html",
        {"rule": rule, "options": options},
        caller=caller,
        errors=errors,
        values=values or _values_of(rule),
    )


@router.get("/admin/rules/{rule_id}")
async def rule_page(request: Request, rule_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _rule_page(request, caller, rule_id)


@router.post("/admin/rules/{rule_id}")
async def update_rule(request: Request, rule_id: int) -> Response:
    form = await request.form()
    values = _rule_values(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(RuleUpdate, _rule_data(values), INPUT_OF_FIELD)
            await assignment_service.update_rule(
                session=session,
                caller=caller,
                rule_id=rule_id,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound as exc:
            if exc.field == "rule_id":
                return _missing(request, caller)
            errors = errors_of(exc, INPUT_OF_FIELD)
        except OpsdeskError as exc:
            errors = errors_of(exc, INPUT_OF_FIELD)
        else:
            return done(request, "Rule saved.", "/admin/rules")
    return await _rule_page(request, caller, rule_id, errors=errors, values=values)


@router.post("/admin/rules/{rule_id}/move")
async def move_rule(request: Request, rule_id: int) -> Response:
    """Swap the rule with its neighbour; positions are renumbered 10, 20, … in the new order."""
    form = await request.form()
    step = -1 if _text(form, "direction") == "up" else 1
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        rules = await assignment_service.list_rules(session=session, caller=caller)
        ids = [rule.id for rule in rules]
        if rule_id not in ids:
            return _missing(request, caller)
        index = ids.index(rule_id)
        other = index + step
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
            now = _clock(request).now()
            for place, rule in enumerate(rules, start=1):
                if rule.position != place * 10:
                    await assignment_service.update_rule(
                        session=session,
                        caller=caller,
                        rule_id=rule.id,
                        data=RuleUpdate(position=place * 10),
                        now=now,
                    )
    return done(request, "Rule order saved.", "/admin/rules")


@router.post("/admin/rules/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_service.delete_rule(session=session, caller=caller, rule_id=rule_id)
        except NotFound:
            return _missing(request, caller)
    return done(request, "Rule deleted.", "/admin/rules")
