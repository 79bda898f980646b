"""An integration's admin page: its settings, key rotation, and its conversion rules (ordered
list, add, edit, move, delete) with a tester that says which rule an alert would meet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from opsdesk.alerts import integrations as integration_service
from opsdesk.alerts.models import ConversionRule, Integration
from opsdesk.alerts.rules import OPERATORS, RuleView, first_match, level_for, title_for
from opsdesk.alerts.schemas import IntegrationUpdate, RuleIn
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.incidents.fields import LEVEL_LABELS
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
from opsdesk.web.common import _catalog_names, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

# Service and schema fields → the form inputs that show their errors.
INPUT_OF_FIELD = {
    "conditions": "conditions",
    "assignee_id": "owner",
    "assignee_scene": "owner",
    "assignee_role": "owner",
}
SETTINGS_INPUTS = ("name", "rate_limit_per_s", "group_by", "group_window_s")
TEST_INPUTS = ("severity", "summary", "source", "labels")


def _missing(request: Request, caller: Caller, what: str) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message=f"No such {what}."
    )


def _url(integration_id: int) -> str:
    return f"/admin/integrations/{integration_id}"


# ---- conditions as text: one per line, "key op value" ------------------------------------


def conditions_text(conditions: list[dict[str, Any]]) -> str:
    lines = []
    for condition in conditions:
        value = condition["value"]
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"{condition['key']} {condition['op']} {shown}")
    return "\n".join(lines)


def parse_conditions(text: str) -> list[dict[str, Any]]:
    """``severity eq critical`` / ``env in prod, staging``, one per line; FormInvalid names
    the line that is not of that shape (the rule schema checks the rest)."""
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 3 or parts[1] not in OPERATORS:
            raise FormInvalid(
                {
                    "conditions": f"Line {number}: write “label operator value”, the operator "
                    f"one of {', '.join(OPERATORS)}"
                }
            )
        key, op, value = parts
        parsed.append({"key": key, "op": op, "value": words(value) if op == "in" else value})
    return parsed


# ---- the rule form -------------------------------------------------------------------------


def _rule_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in ("name", "position", "conditions", "level", "category", "application", "owner")
    }
    for flag in ("enabled", "creates_incident", "auto_resolve"):
        values[flag] = _text(form, flag) == "on"
    return values


def _rule_data(values: dict[str, Any]) -> dict[str, Any]:
    owner = values["owner"]
    kind, _, target = owner.partition(":")
    scene, _, role = target.partition("/")
    return {
        "name": values["name"],
        "position": values["position"] or 100,
        "enabled": values["enabled"],
        "conditions": parse_conditions(values["conditions"]),
        "creates_incident": values["creates_incident"],
        "level": values["level"] or None,
        "category": values["category"] or None,
        "application": values["application"] or None,
        "assignee_id": target if kind == "person" and target else None,
        "assignee_scene": scene if kind == "shift" and scene else None,
        "assignee_role": role if kind == "shift" and role else None,
        "auto_resolve": values["auto_resolve"],
    }


def _values_of(rule: ConversionRule) -> dict[str, Any]:
    owner = ""
    if rule.assignee_id:
        owner = f"person:{rule.assignee_id}"
    elif rule.assignee_scene and rule.assignee_role:
        owner = f"shift:{rule.assignee_scene}/{rule.assignee_role}"
    return {
        "name": rule.name,
        "position": str(rule.position),
        "enabled": rule.enabled,
        "conditions": conditions_text(list(rule.conditions)),
        "creates_incident": rule.creates_incident,
        "level": rule.level or "",
        "category": rule.category or "",
        "application": rule.application or "",
        "owner": owner,
        "auto_resolve": rule.auto_resolve,
    }


async def _options(session: AsyncSession, caller: Caller) -> dict[str, Any]:
    catalog = await _catalog_names(session, (Kind.LEVEL, Kind.CATEGORY, Kind.APPLICATION))
    scenes = await assignment_shifts.list_scenes(session=session, caller=caller)
    staff = await auth_service.active_staff(session=session)
    return {
        "level": [("", "From the alert's severity"), *sorted(catalog[Kind.LEVEL].items())],
        "category": [("", "Default"), *sorted(catalog[Kind.CATEGORY].items())],
        "application": [("", "None"), *sorted(catalog[Kind.APPLICATION].items())],
        "owner": [("", "The assignment rules decide")]
        + [(f"person:{user.id}", f"Person: {user.name}") for user in staff]
        + [
            (f"shift:{scene.key}/{role.key}", f"On duty: {scene.name} / {role.name}")
            for scene in scenes
            for role in scene.roles
        ],
    }


def _rule_row(rule: ConversionRule, options: dict[str, Any]) -> dict[str, Any]:
    owners = dict(options["owner"])
    levels = dict(options["level"])
    values = _values_of(rule)
    if rule.creates_incident:
        outcome = (
            f"incident at {levels.get(rule.level, rule.level)}"
            if rule.level
            else "incident, level from the alert's severity"
        )
        if rule.auto_resolve:
            outcome += ", resolved with its alerts"
    else:
        outcome = "no incident (alerts kept)"
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "conditions": [line for line in values["conditions"].splitlines() if line]
        or ["every alert"],
        "outcome": outcome,
        "owner": owners.get(values["owner"], "") if values["owner"] else "",
    }


# ---- the tester ----------------------------------------------------------------------------


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for line in text.replace(",", "\n").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            labels[key.strip()] = value.strip().strip('"')
    return labels


def _tested(rules: list[ConversionRule], query: dict[str, str]) -> dict[str, Any] | None:
    """Which rule an alert with these fields would meet, and the incident it would open."""
    if query.get("test") != "1":
        return None
    severity = query.get("severity") or "warning"
    alert = {
        "severity": severity,
        "summary": query.get("summary", "")[:500],
        "source": query.get("source", "")[:200],
        "labels": _labels(query.get("labels", "")[:2000]),
    }
    views = [
        RuleView(
            id=rule.id,
            conditions=tuple(rule.conditions),
            creates_incident=rule.creates_incident,
            level=rule.level,
            auto_resolve=rule.auto_resolve,
            enabled=rule.enabled,
        )
        for rule in rules
    ]
    found = first_match(views, alert)
    if found is None:
        return {"rule": None, "note": "No rule matches: the alert is kept, no incident opens."}
    name = next(rule.name for rule in rules if rule.id == found.id)
    if not found.creates_incident:
        return {"rule": name, "note": f"Rule “{name}” matches: no incident opens."}
    level = level_for(found, severity)
    label = LEVEL_LABELS[level].en if level in LEVEL_LABELS else level
    return {
        "rule": name,
        "note": f"Rule “{name}” matches: an incident “{title_for(alert)}” at {label}.",
    }


# ---- pages ---------------------------------------------------------------------------------


async def _page(
    request: Request,
    caller: Caller,
    integration_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    settings_errors: dict[str, str] | None = None,
    settings_values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            row = await integration_service.get_integration(
                session=session, integration_id=integration_id
            )
            rules = await integration_service.list_rules(
                session=session, integration_id=integration_id
            )
        except NotFound:
            return _missing(request, caller, "integration")
        options = await _options(session, caller)
    query = {name: request.query_params.get(name, "") for name in (*TEST_INPUTS, "test")}
    new_key = request.session.pop("new_integration_key", None)
    page = render_admin(
        request,
        "admin/integration.html",
        {
            "integration": row,
            "rules": [_rule_row(rule, options) for rule in rules],
            "options": options,
            "operators": OPERATORS,
            "tested": _tested(rules, query),
            "test": query,
            "new_key": new_key,
            "settings_errors": settings_errors or {},
            "settings": settings_values or _settings_of(row),
        },
        caller=caller,
        errors=errors,
        values=values or {"enabled": True, "creates_incident": True, "position": "100"},
    )
    if settings_errors:
        page.status_code = 422
    return page


def _settings_of(row: Integration) -> dict[str, Any]:
    return {
        "name": row.name,
        "rate_limit_per_s": str(row.rate_limit_per_s),
        "group_by": ", ".join(row.group_by),
        "group_window_s": str(row.group_window_s),
    }


@router.get("/admin/integrations/{integration_id}")
async def integration_page(request: Request, integration_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _page(request, caller, integration_id)


@router.post("/admin/integrations/{integration_id}")
async def save_settings(request: Request, integration_id: int) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in SETTINGS_INPUTS}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                IntegrationUpdate,
                {
                    "name": typed["name"],
                    "rate_limit_per_s": typed["rate_limit_per_s"] or 0,
                    "group_by": words(typed["group_by"]),
                    "group_window_s": typed["group_window_s"] or 3600,
                },
            )
            await integration_service.update_integration(
                session=session,
                integration_id=integration_id,
                changes=data.model_dump(exclude_none=True),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound:
            return _missing(request, caller, "integration")
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Integration saved.", _url(integration_id))
    return await _page(
        request, caller, integration_id, settings_errors=errors, settings_values=typed
    )


@router.post("/admin/integrations/{integration_id}/rotate-key")
async def rotate_key(request: Request, integration_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            key = await integration_service.rotate_key(
                session=session, integration_id=integration_id
            )
        except NotFound:
            return _missing(request, caller, "integration")
    # Shown once on the next page; only its hash is stored. The old key stops working now.
    request.session["new_integration_key"] = key
    return done(request, "New key made; the old one no longer works.", _url(integration_id))


async def _save_rule(
    request: Request, integration_id: int, rule_id: int | None
) -> Response | tuple[Caller, dict[str, str], dict[str, Any]]:
    form = await request.form()
    values = _rule_values(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data: BaseModel = validated(RuleIn, _rule_data(values), INPUT_OF_FIELD)
            await integration_service.save_rule(
                session=session,
                integration_id=integration_id,
                values=data.model_dump(),
                rule_id=rule_id,
            )
        except FormInvalid as exc:
            return caller, _beside_inputs(exc.errors), values
        except NotFound as exc:
            if exc.field in ("integration_id", "rule_id"):
                return _missing(request, caller, "rule")
            return caller, _beside_inputs(errors_of(exc, INPUT_OF_FIELD)), values
        except OpsdeskError as exc:
            return caller, _beside_inputs(errors_of(exc, INPUT_OF_FIELD)), values
    message = "Rule saved." if rule_id else f"Rule {values['name']} added."
    return done(request, message, _url(integration_id))


def _beside_inputs(errors: dict[str, str]) -> dict[str, str]:
    """``conditions[1].value`` and the like are all shown beside the one conditions box."""
    return {
        ("conditions" if name.startswith("conditions") else name): text
        for name, text in errors.items()
    }


@router.post("/admin/integrations/{integration_id}/rules")
async def create_rule(request: Request, integration_id: int) -> Response:
    outcome = await _save_rule(request, integration_id, None)
    if isinstance(outcome, Response):
        return outcome
    caller, errors, values = outcome
    return await _page(request, caller, integration_id, errors=errors, values=values)


async def _rule_page(
    request: Request,
    caller: Caller,
    integration_id: int,
    rule_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            row = await integration_service.get_integration(
                session=session, integration_id=integration_id
            )
            rules = await integration_service.list_rules(
                session=session, integration_id=integration_id
            )
        except NotFound:
            return _missing(request, caller, "integration")
        rule = next((r for r in rules if r.id == rule_id), None)
        if rule is None:
            return _missing(request, caller, "rule")
        options = await _options(session, caller)
    return render_admin(
        request,
        "admin/alert_rule.html",
        {"integration": row, "rule": rule, "options": options, "operators": OPERATORS},
        caller=caller,
        errors=errors,
        values=values or _values_of(rule),
    )


@router.get("/admin/integrations/{integration_id}/rules/{rule_id}")
async def rule_page(request: Request, integration_id: int, rule_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _rule_page(request, caller, integration_id, rule_id)


@router.post("/admin/integrations/{integration_id}/rules/{rule_id}")
async def update_rule(request: Request, integration_id: int, rule_id: int) -> Response:
    outcome = await _save_rule(request, integration_id, rule_id)
    if isinstance(outcome, Response):
        return outcome
    caller, errors, values = outcome
    return await _rule_page(request, caller, integration_id, rule_id, errors=errors, values=values)


@router.post("/admin/integrations/{integration_id}/rules/{rule_id}/move")
async def move_rule(request: Request, integration_id: int, rule_id: int) -> Response:
    """Swap the rule with its neighbour; positions are renumbered 10, 20, … in the new order."""
    form = await request.form()
    step = -1 if _text(form, "direction") == "up" else 1
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            rules = await integration_service.list_rules(
                session=session, integration_id=integration_id
            )
        except NotFound:
            return _missing(request, caller, "integration")
        ids = [rule.id for rule in rules]
        if rule_id not in ids:
            return _missing(request, caller, "rule")
        index = ids.index(rule_id)
        other = index + step
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
            for place, rule in enumerate(rules, start=1):
                if rule.position != place * 10:
                    await integration_service.save_rule(
                        session=session,
                        integration_id=integration_id,
                        values={"position": place * 10},
                        rule_id=rule.id,
                    )
    return done(request, "Rule order saved.", _url(integration_id))


@router.post("/admin/integrations/{integration_id}/rules/{rule_id}/delete")
async def delete_rule(request: Request, integration_id: int, rule_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await integration_service.delete_rule(
                session=session, integration_id=integration_id, rule_id=rule_id
            )
        except NotFound:
            return _missing(request, caller, "rule")
    return done(request, "Rule deleted.", _url(integration_id))
