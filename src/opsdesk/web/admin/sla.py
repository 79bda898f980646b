"""SLA admin pages: the overview, policies (targets, what they match, order, pause phases)
and their escalation steps; calendars are in sla_calendars.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.incidents.lifecycle import PHASE_LABELS, Phase
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import SlaPolicyRow
from opsdesk.sla.policies import PAUSE_CHOICES, ActionKind
from opsdesk.sla.schemas import PolicyIn
from opsdesk.web.admin.base import (
    FORM_ERROR,
    FormInvalid,
    FormValues,
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

MATCHES = {
    "levels": Kind.LEVEL,
    "categories": Kind.CATEGORY,
    "applications": Kind.APPLICATION,
    "regions": Kind.REGION,
}
POLICY_INPUTS = {"response_s": "response_min", "resolution_s": "resolution_min"}
POLICY_FORM = frozenset(
    {
        "key",
        "name",
        "order",
        "calendar",
        "response_min",
        "resolution_min",
        "organisations",
        "pause_phases",
    }
    | set(MATCHES)
)
# Sent with the pause checkboxes: without it (the overview's "add" form, an older page) the
# policy keeps its pauses, as no box ticked cannot be told from no boxes shown.
PAUSES_SHOWN = "pauses_shown"
# The escalation actions a step form offers as checkboxes; reassign has its own select.
STEP_KINDS = (
    (ActionKind.NOTIFY_ASSIGNEE.value, "Notify the assignee"),
    (ActionKind.NOTIFY_GROUP.value, "Notify the workgroup's members"),
    (ActionKind.NOTIFY_MANAGER.value, "Notify the incident managers"),
    (ActionKind.RAISE_LEVEL.value, "Raise the level one step (P1 stays P1)"),
)
STEP_INPUTS = frozenset({"percent", "actions", "workgroup"})


def missing_sla(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such SLA item."
    )


def on_form(errors: dict[str, str], inputs: frozenset[str]) -> dict[str, str]:
    """Errors for something the form has no input for go above the form, naming it."""
    shown: dict[str, str] = {}
    for name, message in errors.items():
        if name in inputs or name == FORM_ERROR:
            shown[name] = message
        else:
            shown.setdefault(FORM_ERROR, f"{name}: {message}")
    return shown


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:g}"


@router.get("/admin/sla")
async def sla_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await render_sla_page(request, caller)


async def render_sla_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        policies = await sla_configuration.list_policies(session=session, caller=caller)
        calendars = await sla_configuration.list_calendars(session=session, caller=caller)
    return render_admin(
        request,
        "admin/sla.html",
        {
            "policies": [
                {
                    "key": row.key,
                    "name": row.name,
                    "order": row.order,
                    "calendar": row.calendar,
                    "response": _minutes(row.response_s) or "—",
                    "resolution": _minutes(row.resolution_s) or "—",
                    "match": "; ".join(
                        f"{name}: {', '.join(found)}"
                        for name, found in (row.match or {}).items()
                        if found
                    )
                    or "every incident",
                    "active": row.active,
                }
                for row in policies
            ],
            "calendars": calendars,
            "calendar_options": [(row.key, row.name) for row in calendars],
        },
        caller=caller,
        errors=errors,
        values=values or {"time_zone": "UTC", "order": "100"},
    )


# Policies ---------------------------------------------------------------------------------


def _policy_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "key",
            "name",
            "order",
            "calendar",
            "response_min",
            "resolution_min",
            "organisations",
        )
    }
    for name in MATCHES:
        values[name] = [value for value in form.getlist(name) if isinstance(value, str)]
    values["active"] = _text(form, "active") == "on"
    values["pause_phases"] = list(
        dict.fromkeys(v for v in form.getlist("pause_phases") if isinstance(v, str))
    )
    values[PAUSES_SHOWN] = _text(form, PAUSES_SHOWN) == "1"
    return values


def _policy_data(values: dict[str, Any], existing: SlaPolicyRow | None) -> dict[str, Any]:
    def seconds(raw: str) -> float | str | None:
        raw = raw.strip()
        try:
            return float(raw) * 60 if raw else None
        except ValueError:
            return raw  # the schema names it

    data: dict[str, Any] = {
        "name": values["name"],
        "order": values["order"].strip() or "100",
        "calendar": values["calendar"],
        "response_s": seconds(values["response_min"]),
        "resolution_s": seconds(values["resolution_min"]),
        **{name: values[name] for name in MATCHES},
        "organisations": words(values["organisations"]),
        "active": values["active"],
    }
    if values[PAUSES_SHOWN]:
        data["pause_phases"] = values["pause_phases"]
    elif existing is not None:
        data["pause_phases"] = list(existing.pause_phases)
    if existing is not None:
        # Not on this form: the escalation steps stay as they are.
        data["thresholds"] = list(existing.thresholds)
    return data


def _phase_label(phase: str) -> str | None:
    try:
        return PHASE_LABELS[Phase(phase)].en
    except ValueError:
        return None


def _pause_phases(*held: Iterable[str]) -> list[str]:
    """The lifecycle's choices, then any other phase held (stored through the API, or sent),
    so that saving the form never drops one unseen."""
    return [*PAUSE_CHOICES, *sorted(set().union(*held) - set(PAUSE_CHOICES))]


def _pause_options(*held: Iterable[str]) -> list[tuple[str, str]]:
    unknown = "(not a phase of the incident lifecycle: no incident is ever in it)"
    return [(phase, _phase_label(phase) or f"{phase} {unknown}") for phase in _pause_phases(*held)]


def _pauses_view(row: SlaPolicyRow) -> list[str]:
    """The policy's pause phases as labels, in the form's order."""
    held = set(row.pause_phases)
    return [_phase_label(p) or p for p in _pause_phases(held) if p in held]


async def _policy_page(
    request: Request,
    caller: Caller,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    step_values: dict[str, Any] | None = None,
) -> Response:
    """The policy's page; with ``step_values`` the errors belong to its "Add a step" form."""
    async with _db(request).read() as session:
        try:
            row = await sla_configuration.get_policy(session=session, caller=caller, key=key)
        except NotFound:
            return missing_sla(request, caller)
        calendars = await sla_configuration.list_calendars(session=session, caller=caller)
        catalog = await _catalog_names(session, MATCHES.values())
        groups = await _workgroup_names(session, caller)
    match = row.match or {}
    shown = (values or {}).get("pause_phases", [])
    return render_admin(
        request,
        "admin/sla_policy.html",
        {
            "policy": row,
            "pauses": _pauses_view(row),
            "pause_options": _pause_options(row.pause_phases, shown),
            "steps": _steps_view(row, groups),
            "step_form": step_values is not None,
            "step_values": FormValues(step_values or {}),
            "step_kinds": STEP_KINDS,
            "workgroup_options": _reassign_options(groups),
            "calendar_options": [(cal.key, cal.name) for cal in calendars],
            "options": {name: sorted(catalog[kind].items()) for name, kind in MATCHES.items()},
        },
        caller=caller,
        errors=errors,
        values=values
        or {
            "name": row.name,
            "order": str(row.order),
            "calendar": row.calendar,
            "response_min": _minutes(row.response_s),
            "resolution_min": _minutes(row.resolution_s),
            **{name: list(match.get(name, [])) for name in MATCHES},
            "organisations": ", ".join(match.get("organisations", [])),
            "active": row.active,
            "pause_phases": list(row.pause_phases),
        },
    )


async def _save_policy(request: Request, key: str, *, creating: bool) -> Response:
    form = await request.form()
    values = _policy_values(form)
    key = values["key"].strip() if creating else key
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            existing: SlaPolicyRow | None = None
            try:
                existing = await sla_configuration.get_policy(
                    session=session, caller=caller, key=key
                )
            except NotFound:
                if not creating:
                    return missing_sla(request, caller)
            if creating and existing is not None:
                raise ValidationFailed(f"key: a policy {key} already exists", field="key")
            data = validated(PolicyIn, _policy_data(values, existing), POLICY_INPUTS)
            await sla_configuration.put_policy(
                session=session, caller=caller, key=key, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = on_form(errors_of(exc, POLICY_INPUTS), POLICY_FORM)
        else:
            return done(request, f"SLA policy {key} saved.", "/admin/sla")
    if creating:
        return await render_sla_page(
            request, caller, errors=errors, values={**values, "form": "policy"}
        )
    return await _policy_page(request, caller, key, errors=errors, values=values)


@router.post("/admin/sla/policies")
async def create_policy(request: Request) -> Response:
    return await _save_policy(request, "", creating=True)


@router.get("/admin/sla/policies/{key}")
async def policy_page(request: Request, key: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _policy_page(request, caller, key)


@router.post("/admin/sla/policies/{key}")
async def update_policy(request: Request, key: str) -> Response:
    return await _save_policy(request, key, creating=False)


@router.post("/admin/sla/policies/{key}/delete")
async def delete_policy(request: Request, key: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await sla_configuration.delete_policy(
                session=session, caller=caller, key=key, now=_clock(request).now()
            )
        except NotFound:
            return missing_sla(request, caller)
    return done(request, f"SLA policy {key} deleted.", "/admin/sla")


# Escalation steps -------------------------------------------------------------------------
# A step is one threshold of the policy: at this percent of a target, run these actions. The
# page saves the whole policy through put_policy, as the API's PUT does, so a step is refused
# for exactly the API's reasons and a refused step writes nothing. Percents are unique within
# a policy, so a step's percent names it in the URL.


def _percent_text(percent: float) -> str:
    return f"{percent:g}" if float(f"{percent:g}") == percent else repr(percent)


async def _workgroup_names(session: AsyncSession, caller: Caller) -> dict[str, str]:
    groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
    return {group.key: group.name for group in groups}


def _reassign_options(groups: dict[str, str]) -> list[tuple[str, str]]:
    return [("", "Nobody: keep the incident where it is"), *sorted(groups.items(), key=_second)]


def _second(item: tuple[str, str]) -> str:
    return item[1]


def _action_text(action: dict[str, Any], groups: dict[str, str]) -> str:
    kind = str(action["kind"])
    if kind == ActionKind.REASSIGN.value:
        workgroup = str(action.get("workgroup") or "")
        return f"Reassign to {groups.get(workgroup, workgroup)}"
    return dict(STEP_KINDS).get(kind, kind)


def _steps_view(row: SlaPolicyRow, groups: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "percent": _percent_text(float(step["percent"])),
            "actions": [_action_text(action, groups) for action in step.get("actions", [])],
        }
        for step in row.thresholds
    ]


def _step_values(step: dict[str, Any]) -> dict[str, Any]:
    """A stored step as its form shows it (one reassign: the form has one workgroup)."""
    actions = step.get("actions", [])
    reassign = [a.get("workgroup") for a in actions if a["kind"] == ActionKind.REASSIGN.value]
    return {
        "percent": _percent_text(float(step["percent"])),
        "actions": [a["kind"] for a in actions if a["kind"] != ActionKind.REASSIGN.value],
        "workgroup": (reassign[0] or "") if reassign else "",
    }


def _step_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the step form shows again, and the step as the API's ThresholdIn takes it."""
    kinds = list(dict.fromkeys(v for v in form.getlist("actions") if isinstance(v, str)))
    percent, workgroup = _text(form, "percent"), _text(form, "workgroup")
    actions: list[dict[str, Any]] = [
        {"kind": kind} for kind in kinds if kind != ActionKind.REASSIGN.value
    ]
    if workgroup.strip() or ActionKind.REASSIGN.value in kinds:
        actions.append({"kind": ActionKind.REASSIGN.value, "workgroup": workgroup.strip() or None})
    values = {"percent": percent, "actions": kinds, "workgroup": workgroup}
    return values, {"percent": percent.strip() or None, "actions": actions}


def _step_inputs(steps: list[dict[str, Any]], index: int) -> dict[str, str]:
    """Where an error about ``thresholds…`` goes: the step at ``index`` is the one on the form."""
    names = {
        "thresholds": "percent",
        f"thresholds.{index}": "percent",
        f"thresholds.{index}.actions": "actions",
    }
    for position, step in enumerate(steps):
        if position != index:
            names[f"thresholds.{position}"] = (
                f"The step at {_percent_text(float(step['percent']))} %"
            )
    for position in range(len(steps[index]["actions"]) if index != NO_STEP else 0):
        names[f"thresholds.{index}.actions.{position}.workgroup"] = "workgroup"
    return names


def _stored_policy(row: SlaPolicyRow, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy as the API's PolicyIn, with these steps in place of its thresholds."""
    match = row.match or {}
    return {
        "name": row.name,
        "order": row.order,
        "calendar": row.calendar,
        "response_s": row.response_s,
        "resolution_s": row.resolution_s,
        **{name: list(match.get(name, [])) for name in (*MATCHES, "organisations")},
        "pause_phases": list(row.pause_phases),
        "thresholds": steps,
        "active": row.active,
    }


Change = Callable[[list[dict[str, Any]]], int | None]
NO_STEP = -1  # a change that leaves no step on the form (a delete)


async def _save_steps(
    request: Request, key: str, change: Change, *, form: FormData
) -> tuple[Caller | Response, dict[str, str] | None]:
    """Apply ``change`` (it edits the steps in place and returns the index of the step on the
    form, None if there is no such step) and save the policy; (caller, errors or None)."""
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller, None
        try:
            row = await sla_configuration.get_policy(session=session, caller=caller, key=key)
        except NotFound:
            return missing_sla(request, caller), None
        steps = [dict(step) for step in row.thresholds]
        index = change(steps)
        if index is None:
            return missing_sla(request, caller), None
        names = _step_inputs(steps, index)
        try:
            data = validated(PolicyIn, _stored_policy(row, steps), names)
            await sla_configuration.put_policy(
                session=session, caller=caller, key=key, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            return caller, on_form(exc.errors, STEP_INPUTS)
        except OpsdeskError as exc:
            return caller, on_form(errors_of(exc, names), STEP_INPUTS)
    return caller, None


def _find_step(steps: list[dict[str, Any]], percent: str) -> int | None:
    try:
        wanted = float(percent)
    except ValueError:
        return None
    return next((i for i, step in enumerate(steps) if float(step["percent"]) == wanted), None)


@router.post("/admin/sla/policies/{key}/steps")
async def add_step(request: Request, key: str) -> Response:
    form = await request.form()
    values, step = _step_form(form)

    def append(steps: list[dict[str, Any]]) -> int:
        steps.append(step)
        return len(steps) - 1

    caller, errors = await _save_steps(request, key, append, form=form)
    if not isinstance(caller, Caller):
        return caller
    if errors is None:
        return done(request, f"Step at {values['percent']} % added.", f"/admin/sla/policies/{key}")
    return await _policy_page(
        request, caller, key, errors=errors, step_values={**values, "form": "step"}
    )


async def _step_page(
    request: Request,
    caller: Caller,
    key: str,
    percent: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            row = await sla_configuration.get_policy(session=session, caller=caller, key=key)
        except NotFound:
            return missing_sla(request, caller)
        groups = await _workgroup_names(session, caller)
    index = _find_step(list(row.thresholds), percent)
    if index is None:
        return missing_sla(request, caller)
    step = row.thresholds[index]
    return render_admin(
        request,
        "admin/sla_step.html",
        {
            "policy": row,
            "percent": _percent_text(float(step["percent"])),
            "step_kinds": STEP_KINDS,
            "workgroup_options": _reassign_options(groups),
        },
        caller=caller,
        errors=errors,
        values=values or _step_values(step),
    )


@router.get("/admin/sla/policies/{key}/steps/{percent}")
async def step_page(request: Request, key: str, percent: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _step_page(request, caller, key, percent)


@router.post("/admin/sla/policies/{key}/steps/{percent}")
async def update_step(request: Request, key: str, percent: str) -> Response:
    form = await request.form()
    values, step = _step_form(form)

    def replace(steps: list[dict[str, Any]]) -> int | None:
        index = _find_step(steps, percent)
        if index is not None:
            steps[index] = step
        return index

    caller, errors = await _save_steps(request, key, replace, form=form)
    if not isinstance(caller, Caller):
        return caller
    if errors is None:
        return done(request, f"Step at {values['percent']} % saved.", f"/admin/sla/policies/{key}")
    return await _step_page(request, caller, key, percent, errors=errors, values=values)


@router.post("/admin/sla/policies/{key}/steps/{percent}/delete")
async def delete_step(request: Request, key: str, percent: str) -> Response:
    form = await request.form()

    def remove(steps: list[dict[str, Any]]) -> int | None:
        index = _find_step(steps, percent)
        if index is None:
            return None
        del steps[index]
        return NO_STEP

    caller, errors = await _save_steps(request, key, remove, form=form)
    if not isinstance(caller, Caller):
        return caller
    if errors is not None:
        message = f"Not deleted: {next(iter(errors.values()))}"
        return done(request, message, f"/admin/sla/policies/{key}/steps/{percent}", kind="error")
    return done(request, f"Step at {percent} % deleted.", f"/admin/sla/policies/{key}")
