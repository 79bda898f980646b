"""The desk's pages: "My work" (the staff home), queues with filters, saved views and bulk actions.

Routes translate forms to the desk services (opsdesk.desk) and back; live updates are in
web/live.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.models import Workgroup
from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.desk import bulk, queues
from opsdesk.desk import views as view_service
from opsdesk.desk.models import SavedView
from opsdesk.incidents.actions import phase_of_incident
from opsdesk.incidents.fields import CHANNEL_LABELS, LEVEL_LABELS
from opsdesk.incidents.lifecycle import PHASE_LABELS, Phase
from opsdesk.incidents.models import Incident
from opsdesk.sla import display as sla_display
from opsdesk.web.common import (
    _caller,
    _catalog_names,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _level_class,
    _level_label,
    _name,
    _owner,
    _redirect,
    _render,
    _rules,
    _text,
    _to_login,
)

router = APIRouter(include_in_schema=False)

PHASE_CLASSES: dict[str, str] = {
    Phase.DRAFT: "draft",
    Phase.NEW: "new",
    Phase.IN_PROGRESS: "progress",
    Phase.PAUSE_REQUESTED: "waiting",
    Phase.PAUSED: "paused",
    Phase.LEVEL_CHANGE_REQUESTED: "waiting",
    Phase.REJECTED: "rejected",
    Phase.RESOLVED: "resolved",
    Phase.COMPLETED: "closed",
}
PAGE_PARAMS = ("queue", "sort", "view", "page", "q", *queues.FORM_FIELDS)


@dataclass(frozen=True)
class QueueRow:
    number: str
    title: str
    level_label: str
    level_class: str
    phase_label: str
    phase_class: str
    category: str
    application: str
    owner: str
    workgroup: str
    updated_at: datetime
    sla_due: datetime | None
    sla_breached: bool


@dataclass(frozen=True)
class Counter:
    queue: str
    label: str
    count: str
    url: str
    urgent: bool = False


def _phase(incident: Incident) -> str:
    return phase_of_incident(incident).value


async def _rows(session: AsyncSession, items: list[Incident]) -> list[QueueRow]:
    names = await _catalog_names(session, (Kind.CATEGORY, Kind.APPLICATION))
    users = await _names_of(session, {item.assignee_id for item in items if item.assignee_id})
    wanted = {item.workgroup for item in items if item.workgroup}
    query = select(Workgroup.key, Workgroup.name).where(Workgroup.key.in_(wanted))
    groups = {row[0]: row[1] for row in (await session.execute(query)).all()}
    clocks = await sla_display.stored_clocks(session, [item.id for item in items])
    rows = []
    for item in items:
        phase = _phase(item)
        rows.append(
            QueueRow(
                number=item.number,
                title=item.title,
                level_label=_level_label(item.level),
                level_class=_level_class(item.level),
                phase_label=PHASE_LABELS[Phase(phase)].en,
                phase_class=PHASE_CLASSES.get(phase, "unknown"),
                category=_name(names[Kind.CATEGORY], item.category),
                application=_name(names[Kind.APPLICATION], item.application),
                owner=_owner(item, users),
                workgroup=groups.get(item.workgroup or "", item.workgroup or ""),
                updated_at=item.updated_at,
                sla_due=min(
                    (c.due_at for c in clocks[item.id] if c.state == "running" and c.due_at),
                    default=None,
                ),
                sla_breached=any(c.breached for c in clocks[item.id]),
            )
        )
    return rows


async def _names_of(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    """Display names of the assignees on a page, in one query (ids stand in for unknowns)."""
    query = select(User.id, User.name).where(User.id.in_(user_ids))
    found = {row[0]: row[1] for row in (await session.execute(query)).all()}
    return {user_id: found.get(user_id, user_id) for user_id in user_ids}


async def _all_groups(session: AsyncSession) -> list[Workgroup]:
    return list(await session.scalars(select(Workgroup).order_by(Workgroup.name)))


def _shown(count: int, capped: bool) -> str:
    return f"{count}+" if capped else str(count)


def _queue_url(queue: str, **params: str) -> str:
    pairs = [("queue", queue), *((k, v) for k, v in params.items() if v)]
    return "/queue?" + urlencode(pairs)


def _staff_queues(caller: Caller) -> list[queues.Queue]:
    shown = [
        queues.Queue.MINE,
        queues.Queue.GROUPS,
        queues.Queue.GROUPS_UNASSIGNED,
        queues.Queue.UNASSIGNED,
        queues.Queue.BREACHING,
        queues.Queue.BREACHED,
    ]
    if queues.may_approve(caller):
        shown.append(queues.Queue.APPROVAL)
    return [*shown, queues.Queue.WAITING, queues.Queue.MAJOR, queues.Queue.ALL]


# --- My work -------------------------------------------------------------------------------


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    return _redirect("/my-work")


@router.get("/my-work")
async def my_work(request: Request) -> Response:
    now = _clock(request).now()
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.is_staff:
            return _redirect("/incidents")
        counted = [q for q in _staff_queues(caller) if q is not queues.Queue.ALL]
        counted = [q for q in counted if q is not queues.Queue.GROUPS]
        counts = await queues.count_queues(session=session, caller=caller, queues=counted, now=now)
        mine = await queues.list_queue(
            session=session,
            caller=caller,
            request=queues.QueueRequest(
                queue=queues.Queue.MINE,
                filters=queues.parse_filters({}),
                sort="sla_due_at",
                per_page=25,
            ),
            now=now,
        )
        rows = await _rows(session, mine.items)
    urgent = {queues.Queue.BREACHING, queues.Queue.BREACHED, queues.Queue.APPROVAL}
    counters = [
        Counter(
            q.value,
            queues.QUEUE_LABELS[q],
            _shown(*counts[q]),
            _queue_url(q.value),
            q in urgent and counts[q][0] > 0,
        )
        for q in counted
    ]
    return _render(
        request,
        "my_work.html",
        {
            "counters": counters,
            "rows": rows,
            "total": _shown(mine.total, mine.capped),
            "live_url": "/queue/changes?queue=mine",
        },
        caller=caller,
    )


# --- queues --------------------------------------------------------------------------------


@dataclass
class QueueState:
    """What a queue page shows, read from its query string (or a saved view)."""

    queue: queues.Queue
    form: dict[str, str]
    filters: dict[str, Any]
    sort: str
    page: int
    view: SavedView | None = None


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in PAGE_PARAMS and v.strip()}


async def _state(session: AsyncSession, caller: Caller, params: dict[str, str]) -> QueueState:
    unknown = [key for key in params if key not in PAGE_PARAMS]
    if unknown:
        raise ValidationFailed(f"{unknown[0]}: unknown parameter", field=unknown[0])
    page = 1
    if params.get("page"):
        try:
            page = max(1, min(int(params["page"]), 100_000))
        except ValueError:
            raise ValidationFailed("page: give a whole number", field="page") from None
    if params.get("view"):
        try:
            view_id = int(params["view"])
        except ValueError:
            raise ValidationFailed("view: no such saved view", field="view") from None
        view = await view_service.get_view(session=session, caller=caller, view_id=view_id)
        return QueueState(
            queue=queues.parse_queue(view.queue),
            form=queues.filters_to_form(view.filters),
            filters=view.filters,
            sort=view.sort,
            page=page,
            view=view,
        )
    form = {name: params.get(name, "") for name in (*queues.FORM_FIELDS, "q")}
    queue = queues.parse_queue(params.get("queue"))
    return QueueState(
        queue=queue,
        form=form,
        filters=queues.form_to_filters(form),
        sort=queues.parse_sort(params.get("sort"), queue.value),
        page=page,
    )


async def _options(session: AsyncSession, caller: Caller) -> dict[str, list[tuple[str, str]]]:
    names = await _catalog_names(session, (Kind.CATEGORY, Kind.APPLICATION))
    staff = await auth_service.active_staff(session=session)
    scenes = await assignment_shifts.list_scenes(session=session, caller=caller)
    return {
        "assignee": [(user.id, user.name) for user in staff],
        "workgroup": [(group.key, group.name) for group in await _all_groups(session)],
        "category": sorted(names[Kind.CATEGORY].items(), key=lambda kv: kv[1]),
        "application": sorted(names[Kind.APPLICATION].items(), key=lambda kv: kv[1]),
        "channel": [(str(c.value), label.en) for c, label in CHANNEL_LABELS.items()],
        "level": [(key, label.en) for key, label in LEVEL_LABELS.items()],
        "status": [(str(p.value), label.en) for p, label in PHASE_LABELS.items()],
        "shift": [
            (f"{scene.key}:{role.key}", f"{scene.name} / {role.name}")
            for scene in scenes
            for role in scene.roles
        ],
    }


async def _queue_page(
    request: Request,
    params: dict[str, str],
    *,
    results: list[bulk.RowResult] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    now = _clock(request).now()
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.is_staff:
            return _redirect("/incidents")
        rows: list[QueueRow] = []
        total, page, per_page, capped = 0, 1, 25, False
        state: QueueState | None = None
        try:
            state = await _state(session, caller, params)
            listed = await queues.list_queue(
                session=session,
                caller=caller,
                request=queues.QueueRequest(
                    queue=state.queue,
                    filters=queues.parse_filters(state.filters),
                    sort=state.sort,
                    page=state.page,
                ),
                now=now,
            )
        except OpsdeskError as exc:
            error, status_code = exc.message, 422
        else:
            rows = await _rows(session, listed.items)
            total, page, per_page = listed.total, listed.page, listed.per_page
            capped = listed.capped
        options = await _options(session, caller)
        saved = await view_service.list_views(session=session, caller=caller)
    queue = state.queue if state is not None else queues.Queue.MINE
    form = state.form if state is not None else dict.fromkeys((*queues.FORM_FIELDS, "q"), "")
    sort = state.sort if state is not None else queues.parse_sort(None, queue.value)
    # A capped total means more pages than counted: "Next" stays while a page is full.
    pages = max(1, math.ceil(total / per_page)) + (1 if capped else 0)
    here = {k: v for k, v in params.items() if k != "page"}
    return _render(
        request,
        "queue.html",
        {
            "queue": queue.value,
            "queue_label": queues.QUEUE_LABELS[queue],
            "view": state.view if state is not None else None,
            "tabs": [(q.value, queues.QUEUE_LABELS[q]) for q in _staff_queues(caller)],
            "form": form,
            "sort": sort,
            "sorts": list(queues.SORTS.items()),
            "filtered": any(form.values()),
            "options": options,
            "rows": rows,
            "total": total,
            "total_shown": _shown(total, capped),
            "page": page,
            "pages": pages,
            "pages_shown": _shown(pages - 1, True) if capped else str(pages),
            "prev_url": "/queue?" + urlencode({**here, "page": page - 1}) if page > 1 else None,
            "next_url": "/queue?" + urlencode({**here, "page": page + 1}) if page < pages else None,
            "here": "/queue?" + urlencode(params),
            "live_url": "/queue/changes?" + urlencode(params),
            "saved": saved,
            "bulk_actions": list(bulk.BULK_LABELS.items()),
            "results": results,
            "error": error,
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/queue")
async def queue_page(request: Request) -> Response:
    return await _queue_page(request, {k: v for k, v in request.query_params.items() if v.strip()})


def _return_params(form: FormData) -> dict[str, str]:
    target = _text(form, "return_to")
    split = urlsplit(target)
    if split.path != "/queue" or split.netloc:
        return {}
    return {k: v for k, v in parse_qsl(split.query) if k in PAGE_PARAMS and v.strip()}


def _bulk_params(action: bulk.BulkAction, form: FormData) -> dict[str, Any]:
    comment = _text(form, "comment").strip()
    if action is bulk.BulkAction.FORWARD:
        params: dict[str, Any] = {"comment": comment}
        target = _text(form, "forward_to").strip()
        kind, _, value = target.partition("=")
        if kind == "person" and value:
            params["assignee_id"] = value
        elif kind == "group" and value:
            params["workgroup"] = value
        elif kind == "shift" and ":" in value:
            params["assignee_scene"], params["assignee_role"] = value.split(":", 1)
        else:
            raise ValidationFailed(
                "forward_to: choose a person, a group or a shift", field="forward_to"
            )
        return params
    if action is bulk.BulkAction.CHANGE_LEVEL:
        return {"level": _text(form, "level").strip(), "comment": comment}
    if action is bulk.BulkAction.NOTE:
        return {"note": _text(form, "comment").replace("\r\n", "\n")}
    if action is bulk.BulkAction.ACCEPT:
        return {"comment": comment} if comment else {}
    if action is bulk.BulkAction.MERGE:
        return {"primary": _text(form, "merge_primary").strip()}
    return {}


@router.post("/queue/bulk")
async def bulk_action(request: Request) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await _caller(request, session)
    if caller is None:
        return _to_login(request)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    back = _return_params(form)
    numbers = [value for value in form.getlist("numbers") if isinstance(value, str)]
    try:
        action = bulk.parse_bulk_action(_text(form, "action"))
        results = await bulk.run_bulk(
            db=_db(request),
            caller=caller,
            numbers=numbers,
            action=action,
            params=_bulk_params(action, form),
            now=_clock(request).now(),
            rules=_rules(request),
        )
    except OpsdeskError as exc:
        return await _queue_page(request, back, error=exc.message, status_code=422)
    return await _queue_page(request, back, results=results)


# --- saved views from the page -----------------------------------------------------------


@router.post("/queue/views")
async def save_view(request: Request) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await _caller(request, session)
    if caller is None:
        return _to_login(request)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    back = _return_params(form)
    back.pop("view", None)
    back.pop("page", None)
    filters = queues.form_to_filters(back)
    try:
        async with _db(request).write() as session:
            view = await view_service.create_view(
                session=session,
                caller=caller,
                data=view_service.ViewInput(
                    name=_text(form, "name"),
                    queue=back.get("queue", "mine"),
                    filters=filters,
                    sort=back.get("sort"),
                    shared=_text(form, "shared") == "yes",
                ),
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await _queue_page(request, back, error=exc.message, status_code=422)
    return _redirect(f"/queue?view={view.id}")


@router.post("/queue/views/{view_id}/delete")
async def delete_view(request: Request, view_id: int) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await _caller(request, session)
    if caller is None:
        return _to_login(request)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    try:
        async with _db(request).write() as session:
            await view_service.delete_view(session=session, caller=caller, view_id=view_id)
    except OpsdeskError as exc:
        return _error_page(
            request,
            caller=caller,
            status_code=404 if isinstance(exc, NotFound) else 403,
            title="View not deleted",
            message=exc.message,
        )
    return _redirect("/queue")
